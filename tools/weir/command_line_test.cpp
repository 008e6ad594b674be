#include "command_line.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace weir::tool {
namespace {

parse_outcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"weir"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// The line a mistake prints, or "no error".
std::string mistake(std::initializer_list<const char*> args) {
  const parse_outcome out = parse(args);
  if (out.run) return "no error";
  EXPECT_EQ(out.exit_code, exit_usage) << out.text;
  return out.text;
}

class CommandLine : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("WEIR_ADMIN");
    ::unsetenv("WEIR_ADMIN_TOKEN");
  }
  void TearDown() override { SetUp(); }
};

TEST_F(CommandLine, Top) {
  const parse_outcome out = parse({"top", "--addr", "127.0.0.1:9000", "--interval", "0.5"});
  ASSERT_TRUE(out.run) << out.text;
  EXPECT_EQ(out.run->command, "top");
  EXPECT_EQ(out.run->address, "127.0.0.1:9000");
  EXPECT_EQ(out.run->token, "");
  EXPECT_DOUBLE_EQ(out.run->interval_s, 0.5);
  EXPECT_FALSE(out.run->once);

  const parse_outcome once = parse({"top", "--once", "--interval=2", "--token=t0k"});
  ASSERT_TRUE(once.run) << once.text;
  EXPECT_TRUE(once.run->once);
  EXPECT_DOUBLE_EQ(once.run->interval_s, 2);
  EXPECT_EQ(once.run->address, "127.0.0.1:9901");  // the default
  EXPECT_EQ(once.run->token, "t0k");
}

TEST_F(CommandLine, Dump) {
  const parse_outcome out = parse(
      {"dump", "--json", "--state", "waiting", "--min-wait-ms", "100", "--name", "GET /login"});
  ASSERT_TRUE(out.run) << out.text;
  EXPECT_EQ(out.run->command, "dump");
  EXPECT_TRUE(out.run->json);
  EXPECT_EQ(out.run->state, "waiting");
  EXPECT_EQ(out.run->min_wait_ms, "100");
  EXPECT_EQ(out.run->name, "GET /login");
  const parse_outcome plain = parse({"dump"});
  ASSERT_TRUE(plain.run) << plain.text;
  EXPECT_FALSE(plain.run->json);
  EXPECT_EQ(plain.run->state, "");
  EXPECT_EQ(plain.run->min_wait_ms, "");
}

TEST_F(CommandLine, EndpointBeforeOrAfterTheCommandAndFromTheEnvironment) {
  EXPECT_EQ(parse({"--addr", "h:1", "top"}).run->address, "h:1");
  EXPECT_EQ(parse({"top", "--addr", "h:2"}).run->address, "h:2");
  EXPECT_EQ(parse({"--addr", "h:1", "dump", "--addr", "h:2"}).run->address, "h:2");
  EXPECT_EQ(parse({"top", "--addr", "h:1", "--addr", "h:3"}).run->address, "h:3");  // last wins
  EXPECT_EQ(parse({"--token", "a", "dump"}).run->token, "a");

  ::setenv("WEIR_ADMIN", "env:7", 1);
  ::setenv("WEIR_ADMIN_TOKEN", "envtok", 1);
  EXPECT_EQ(parse({"top"}).run->address, "env:7");
  EXPECT_EQ(parse({"top"}).run->token, "envtok");
  EXPECT_EQ(parse({"top", "--addr", "h:2", "--token", ""}).run->address, "h:2");  // flags win
  EXPECT_EQ(parse({"top", "--token", ""}).run->token, "");
  ::setenv("WEIR_ADMIN", "", 1);  // empty: as if unset
  EXPECT_EQ(parse({"dump"}).run->address, "127.0.0.1:9901");
}

TEST_F(CommandLine, BadValues) {
  EXPECT_EQ(mistake({"top", "--interval", "0.05"}),
            "weir: --interval wants seconds, at least 0.1 (got '0.05') (see weir top --help)\n");
  EXPECT_EQ(mistake({"top", "--interval", "soon"}),
            "weir: --interval wants seconds, at least 0.1 (got 'soon') (see weir top --help)\n");
  EXPECT_EQ(mistake({"top", "--interval", "inf"}),
            "weir: --interval wants seconds, at least 0.1 (got 'inf') (see weir top --help)\n");
  EXPECT_EQ(
      mistake({"dump", "--state", "parked"}),
      "weir: --state wants waiting, ready or running (got 'parked') (see weir dump --help)\n");
  EXPECT_EQ(
      mistake({"dump", "--min-wait-ms", "-1"}),
      "weir: --min-wait-ms wants a number of milliseconds (got '-1') (see weir dump --help)\n");
  EXPECT_EQ(mistake({"dump", "--min-wait-ms", "1.5"}), "no error");
  // A missing value: CLI11's words, in the same line.
  const std::string missing = mistake({"top", "--addr"});
  EXPECT_EQ(missing.substr(0, 13), "weir: --addr:") << missing;
  EXPECT_EQ(missing.substr(missing.size() - 23), " (see weir top --help)\n") << missing;
}

TEST_F(CommandLine, OptionsOfTheOtherCommandAndUnknownOnes) {
  EXPECT_EQ(mistake({"dump", "--interval", "2"}),
            "weir: --interval is an option of 'weir top' (see weir dump --help)\n");
  EXPECT_EQ(mistake({"top", "--json"}),
            "weir: --json is an option of 'weir dump' (see weir top --help)\n");
  EXPECT_EQ(mistake({"top", "--state=waiting"}),
            "weir: --state is an option of 'weir dump' (see weir top --help)\n");
  EXPECT_EQ(mistake({"--once", "top"}),
            "weir: --once goes after the command: weir top --once (see weir top --help)\n");
  EXPECT_EQ(mistake({"--json", "top"}),
            "weir: --json is an option of 'weir dump' (see weir top --help)\n");
  EXPECT_EQ(mistake({"top", "--bogus"}), "weir: unknown option '--bogus' (see weir top --help)\n");
  EXPECT_EQ(mistake({"top", "-x"}), "weir: unknown option '-x' (see weir top --help)\n");
  EXPECT_EQ(mistake({"frob"}),
            "weir: unknown command 'frob' (the commands are top and dump) (see weir --help)\n");
  EXPECT_EQ(mistake({"top", "extra"}), "weir: unexpected argument 'extra' (see weir top --help)\n");
}

TEST_F(CommandLine, Help) {
  for (const char* flag : {"--help", "-h"}) {
    const parse_outcome main_help = parse({flag});
    EXPECT_FALSE(main_help.run);
    EXPECT_EQ(main_help.exit_code, 0);
    for (const char* word : {"top", "dump", "--addr", "--token", "WEIR_ADMIN", "Exit status"})
      EXPECT_NE(main_help.text.find(word), std::string::npos) << word << " in\n" << main_help.text;
  }
  const parse_outcome top_help = parse({"top", "--help"});
  EXPECT_EQ(top_help.exit_code, 0);
  for (const char* word : {"--interval", "--once", "--addr", "--token", "keys:", "Ctrl-L"})
    EXPECT_NE(top_help.text.find(word), std::string::npos) << word << " in\n" << top_help.text;
  EXPECT_EQ(top_help.text.find("--json"), std::string::npos) << top_help.text;
  const parse_outcome dump_help = parse({"dump", "-h"});
  EXPECT_EQ(dump_help.exit_code, 0);
  for (const char* word : {"--json", "--state", "--min-wait-ms", "--name", "--addr"})
    EXPECT_NE(dump_help.text.find(word), std::string::npos) << word << " in\n" << dump_help.text;

  // No command: the help, as a mistake.
  const parse_outcome none = parse({});
  EXPECT_FALSE(none.run);
  EXPECT_EQ(none.exit_code, exit_usage);
  EXPECT_NE(none.text.find("dump"), std::string::npos) << none.text;
}

}  // namespace
}  // namespace weir::tool
