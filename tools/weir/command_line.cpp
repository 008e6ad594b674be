#include "command_line.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

namespace weir::tool {
namespace {

constexpr std::string_view default_address = "127.0.0.1:9901";

constexpr const char* top_footer =
    R"(Full screen, longest-waiting first. With --once, one frame of 80x24 (unless stdout is a
terminal) on stdout.

keys:
  q  quit                         s  next sort key: wait, busy, runs, id, name
  r  reverse the order            f  filter by name (Enter applies, Esc cancels, empty clears)
  w  waiting tasks only (toggle)  p  pause / resume refreshing
  space  refresh now              Ctrl-L  repaint

The first request must succeed (a wrong address or token is reported at once). After that,
when the service goes away, the last table stays up, the status line says why, and weir top
retries at every interval.)";

constexpr const char* dump_footer =
    "Prints GET /debug/tasks (with the filters as its query) as the service writes it.";

constexpr const char* main_footer =
    R"(`weir top --help`, `weir dump --help` for a command's options.

Exit status: 0 on success, 1 on an error (its reason on stderr), 2 on a bad command line.)";

// --addr and --token: every app has its own, so that they may come before or after the command
// and show in each command's help.
struct endpoint_flags {
  std::string address, token;
  CLI::Option* address_opt = nullptr;
  CLI::Option* token_opt = nullptr;

  void add_to(CLI::App& app) {
    address_opt = app.add_option("--addr", address,
                                 "admin endpoint (default: $WEIR_ADMIN, else 127.0.0.1:9901)")
                      ->type_name("HOST:PORT");
    token_opt = app.add_option("--token", token,
                               "bearer token for the endpoint (default: $WEIR_ADMIN_TOKEN)")
                    ->type_name("T");
  }
};

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::string env_or(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

}  // namespace

parse_outcome parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"weir: inspects a running weir service through its admin HTTP endpoint.", "weir"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.require_subcommand(0, 1);
  app.allow_extras();  // told below in our words
  endpoint_flags common;
  common.add_to(app);

  CLI::App* top =
      app.add_subcommand("top", "live table of the service's tasks, refreshed every second");
  CLI::App* dump =
      app.add_subcommand("dump", "print the service's task dump once (text, or JSON with --json)");
  for (CLI::App* sub : {top, dump}) {
    sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    sub->allow_extras();
  }
  app.footer(main_footer);  // after the commands: they would inherit it

  options o;
  std::string interval;
  top->footer(top_footer);
  top->add_option("--interval", interval,
                  "time between refreshes (default 1; fractions allowed, at least 0.1)")
      ->type_name("SECONDS");
  top->add_flag("--once", o.once, "print one frame to stdout and exit (no full screen, no keys)");
  endpoint_flags top_endpoint;
  top_endpoint.add_to(*top);

  dump->footer(dump_footer);
  dump->add_flag("--json", o.json, "the JSON form (?format=json) instead of text");
  dump->add_option("--state", o.state, "only tasks in STATE: waiting, ready or running")
      ->type_name("STATE");
  dump->add_option("--min-wait-ms", o.min_wait_ms, "only tasks that have waited at least N ms")
      ->type_name("N");
  dump->add_option("--name", o.name, "only tasks whose name contains SUBSTR")->type_name("SUBSTR");
  endpoint_flags dump_endpoint;
  dump_endpoint.add_to(*dump);

  // What a mistake prints: one line, and where the help is.
  auto mistake = [&](const std::string& what) {
    std::string where = "weir";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return parse_outcome{std::nullopt, exit_usage,
                         "weir: " + what + " (see " + where + " --help)\n"};
  };

  // Built in one step: g++ 12 -O2 warns (-Wfree-nonheap-object, a false positive) when a
  // vector constructed from the range then grows by push_back.
  static const char* const no_args[] = {"weir"};
  const std::vector<const char*> args =
      argc > 0 ? std::vector<const char*>(argv, argv + argc)
               : std::vector<const char*>(std::begin(no_args), std::end(no_args));
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};  // the chosen command's, when there is one
  } catch (const CLI::CallForAllHelp&) {
    return {std::nullopt, 0, app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::ParseError& e) {
    return mistake(e.what());
  }

  // What CLI11 did not take, in our words: a command's option given before the command or to
  // the other command, an unknown option, an unknown command, a stray argument.
  const CLI::App* chosen = app.get_subcommands().empty() ? nullptr : app.get_subcommands()[0];
  const std::vector<std::string> before = app.remaining();
  const std::vector<std::string> after = chosen ? chosen->remaining() : std::vector<std::string>{};
  if (!before.empty() || !after.empty()) {
    const std::string& arg = before.empty() ? after.front() : before.front();
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string name = arg.substr(0, arg.find('='));
      for (const CLI::App* sub : {top, dump}) {
        if (sub->get_option_no_throw(name) == nullptr) continue;
        if (sub != chosen) return mistake(name + " is an option of 'weir " + sub->get_name() + "'");
        return mistake(name + " goes after the command: weir " + sub->get_name() + " " + name);
      }
      return mistake("unknown option '" + name + "'");
    }
    if (!chosen) return mistake("unknown command '" + arg + "' (the commands are top and dump)");
    return mistake("unexpected argument '" + arg + "'");
  }
  if (!chosen) return {std::nullopt, exit_usage, app.help()};

  o.command = chosen->get_name();
  // The command's own --addr before one given ahead of the command, then the environment.
  const endpoint_flags& own = chosen == top ? top_endpoint : dump_endpoint;
  o.address = own.address_opt->count() > 0      ? own.address
              : common.address_opt->count() > 0 ? common.address
                                                : env_or("WEIR_ADMIN", default_address);
  o.token = own.token_opt->count() > 0      ? own.token
            : common.token_opt->count() > 0 ? common.token
                                            : env_or("WEIR_ADMIN_TOKEN", "");

  if (top->get_option("--interval")->count() > 0) {
    const auto s = parse_number(interval);
    if (!s || *s < 0.1)
      return mistake("--interval wants seconds, at least 0.1 (got '" + interval + "')");
    o.interval_s = *s;
  }
  if (dump->get_option("--state")->count() > 0 && o.state != "waiting" && o.state != "ready" &&
      o.state != "running")
    return mistake("--state wants waiting, ready or running (got '" + o.state + "')");
  if (dump->get_option("--min-wait-ms")->count() > 0) {
    const auto ms = parse_number(o.min_wait_ms);
    if (!ms || *ms < 0)
      return mistake("--min-wait-ms wants a number of milliseconds (got '" + o.min_wait_ms + "')");
  }
  return {std::move(o), 0, {}};
}

}  // namespace weir::tool
