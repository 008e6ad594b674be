// The `weir` command line, read with CLI11:
//
//   weir top [--interval SECONDS] [--once]     live task table, like top(1)
//   weir dump [--json] [--state S] [--min-wait-ms N] [--name SUBSTR]
//   common: --addr HOST:PORT ($WEIR_ADMIN, else 127.0.0.1:9901), --token T ($WEIR_ADMIN_TOKEN),
//           given before or after the command
//
//   tool::parse_outcome out = tool::parse_command_line(argc, argv);
//   if (!out.run) {                                   // help, or a mistake
//     std::fputs(out.text.c_str(), out.exit_code == 0 ? stdout : stderr);
//     return out.exit_code;                           // 0 for --help, 2 for a bad command line
//   }
//   run(*out.run);
//
// CLI11 only collects: every check of a value (and its words) is ours, and so is the word for
// an option given to the wrong command ("--json is an option of 'weir dump'"). A mistake's text
// is one line, "weir: <what> (see weir top --help)"; `weir` with no command prints the help on
// stderr, as a mistake. Only this file's .cpp sees CLI11 (and catches what it throws).
#pragma once

#include <optional>
#include <string>

namespace weir::tool {

constexpr int exit_usage = 2;  // a bad command line

struct options {
  std::string command;  // "top" or "dump"
  std::string address;  // --addr, else $WEIR_ADMIN when set and not empty, else 127.0.0.1:9901
  std::string token;    // --token, else $WEIR_ADMIN_TOKEN
  // top
  double interval_s = 1.0;  // at least 0.1
  bool once = false;
  // dump
  bool json = false;
  std::string state;        // "", "waiting", "ready" or "running"
  std::string min_wait_ms;  // "" or a number >= 0, as given (it goes into the query)
  std::string name;
};

struct parse_outcome {
  std::optional<options> run;  // set: run this command
  int exit_code = 0;           // else exit with this (0: help asked for; exit_usage: a mistake)
  std::string text;            // after printing this: on stdout for 0, else on stderr
};

parse_outcome parse_command_line(int argc, const char* const* argv);

}  // namespace weir::tool
