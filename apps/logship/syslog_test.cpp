#include "syslog.hpp"

#include <gtest/gtest.h>

#include <string>

namespace logship {
namespace {

syslog_message ok(std::string_view line) {
  syslog_message m;
  const char* why = parse_syslog(line, m);
  EXPECT_EQ(why, nullptr) << line << ": " << why;
  return m;
}

std::string refused(std::string_view line) {
  syslog_message m;
  const char* why = parse_syslog(line, m);
  return why ? why : "(parsed)";
}

// RFC 5424's own examples (6.5), BOM included.
TEST(Syslog5424, TheRfcExamples) {
  auto m =
      ok("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
         "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(m.format, syslog_format::rfc5424);
  EXPECT_EQ(m.facility, 4);
  EXPECT_EQ(m.severity, 2);
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.timestamp.iso8601(), "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(m.timestamp.nanos, 3'000'000u);
  EXPECT_EQ(m.hostname, "mymachine.example.com");
  EXPECT_EQ(m.appname, "su");
  EXPECT_EQ(m.procid, "");
  EXPECT_EQ(m.msgid, "ID47");
  EXPECT_TRUE(m.sd.empty());
  EXPECT_TRUE(m.bom);
  EXPECT_EQ(m.msg, "'su root' failed for lonvick on /dev/pts/8");

  m =
      ok("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
         "make the do-nuts.");
  EXPECT_EQ(m.timestamp.offset_minutes, -420);
  EXPECT_EQ(m.timestamp.nanos, 3000u);
  EXPECT_EQ(m.timestamp.iso8601(), "2003-08-24T05:14:15.000003-07:00");
  EXPECT_EQ(m.procid, "8710");
  EXPECT_EQ(m.msgid, "");
  EXPECT_FALSE(m.bom);
  EXPECT_EQ(m.msg, "%% It's time to make the do-nuts.");

  m =
      ok("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
         "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
         "\xEF\xBB\xBF"
         "An application event log entry...");
  ASSERT_EQ(m.sd.size(), 1u);
  EXPECT_EQ(m.sd[0].id, "exampleSDID@32473");
  ASSERT_EQ(m.sd[0].params.size(), 3u);
  EXPECT_EQ(m.param("exampleSDID@32473", "eventSource"), "Application");
  EXPECT_EQ(m.msg, "An application event log entry...");

  m =
      ok("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
         "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
         "[examplePriority@32473 class=\"high\"]");
  ASSERT_EQ(m.sd.size(), 2u);
  EXPECT_EQ(m.param("examplePriority@32473", "class"), "high");
  EXPECT_EQ(m.msg, "");
}

TEST(Syslog5424, EscapesNilValuesAndLimits) {
  auto m = ok(R"(<0>1 - - - - - [a b="q\"b\\s\]x\y" c=""] m)");
  EXPECT_FALSE(m.timestamp.present);
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.facility, 0);
  EXPECT_EQ(m.severity, 0);
  EXPECT_EQ(m.sd[0].params[0].raw, R"(q\"b\\s\]x\y)");
  EXPECT_EQ(m.param("a", "b"), R"(q"b\s]x\y)");  // a backslash before 'y' stays
  bool found = false;
  EXPECT_EQ(m.param("a", "c", &found), "");
  EXPECT_TRUE(found);
  EXPECT_EQ(m.param("a", "nope", &found), "");
  EXPECT_FALSE(found);
  EXPECT_EQ(ok("<191>1 - - - - - -").facility, 23);
  EXPECT_EQ(ok("<13>1 2016-02-29T23:59:60+14:00 h a p m -").timestamp.iso8601(),
            "2016-02-29T23:59:60+14:00");
  EXPECT_EQ(ok("<13>12 - h a p m -").version, 12);
  EXPECT_EQ(ok("<13>1 - " + std::string(255, 'h') + " a p m -").hostname.size(), 255u);
}

TEST(Syslog5424, BrokenHeadersAreRefusedWithTheReason) {
  EXPECT_EQ(refused(""), "empty line");
  EXPECT_EQ(refused("<192>1 - - - - - -"), "bad PRI");
  EXPECT_EQ(refused("<013>1 - - - - - -"), "bad PRI");
  EXPECT_EQ(refused("<1234>x"), "bad PRI");
  EXPECT_EQ(refused("<13"), "bad PRI");
  EXPECT_EQ(refused("<>x"), "bad PRI");
  EXPECT_EQ(refused("<13>1 2003-13-11T22:14:15Z h a p m -"), "rfc5424: bad TIMESTAMP");
  EXPECT_EQ(refused("<13>1 2003-10-11T22:14:15 h a p m -"), "rfc5424: bad TIMESTAMP");  // no zone
  EXPECT_EQ(refused("<13>1 2003-10-11T22:14:15.1234567Z h a p m -"), "rfc5424: bad TIMESTAMP");
  EXPECT_EQ(refused("<13>1 2003-02-30T22:14:15Z h a p m -"), "rfc5424: bad TIMESTAMP");
  EXPECT_EQ(refused("<13>1 - " + std::string(256, 'h') + " a p m -"), "rfc5424: bad HOSTNAME");
  EXPECT_EQ(refused("<13>1 - h " + std::string(49, 'a') + " p m -"), "rfc5424: bad APP-NAME");
  EXPECT_EQ(refused("<13>1 - h a p " + std::string(33, 'm') + " -"), "rfc5424: bad MSGID");
  EXPECT_EQ(refused("<13>1 - h a p m"), "rfc5424: bad MSGID");
  EXPECT_EQ(refused("<13>1 - h a p m x"), "rfc5424: expected STRUCTURED-DATA ('-' or '[')");
  EXPECT_EQ(refused("<13>1 - h a p m [id x=\"unterminated"), "rfc5424: unterminated PARAM-VALUE");
  EXPECT_EQ(refused("<13>1 - h a p m [id x=\"a]b\"]"), "rfc5424: unescaped ']' in PARAM-VALUE");
  EXPECT_EQ(refused("<13>1 - h a p m [id x=y]"), "rfc5424: bad SD-PARAM");
  EXPECT_EQ(refused("<13>1 - h a p m [ x=\"y\"]"), "rfc5424: bad SD-ID");
  EXPECT_EQ(refused("<13>1 - h a p m [id x=\"y\""), "rfc5424: expected ']' or ' ' in SD-ELEMENT");
  EXPECT_EQ(refused("<13>1 - h a p m -x"), "rfc5424: expected ' ' before MSG");
}

TEST(Syslog3164, WhatRealSendersWrite) {
  auto m = ok("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(m.format, syslog_format::rfc3164);
  EXPECT_EQ(m.timestamp.iso8601(), "--10-11T22:14:15");  // ISO 8601: no year
  EXPECT_FALSE(m.timestamp.has_year);
  EXPECT_EQ(m.hostname, "mymachine");
  EXPECT_EQ(m.appname, "su");
  EXPECT_EQ(m.msg, "'su root' failed for lonvick on /dev/pts/8");

  m = ok("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");  // space-padded day, no tag
  EXPECT_EQ(m.timestamp.day, 5);
  EXPECT_EQ(m.hostname, "10.0.0.99");
  EXPECT_EQ(m.appname, "");
  EXPECT_EQ(m.msg, "Use the BFG!");

  m = ok("<38>Feb  5 17:32:18 sshd[1234]: Accepted publickey for root");  // no hostname
  EXPECT_EQ(m.hostname, "");
  EXPECT_EQ(m.appname, "sshd");
  EXPECT_EQ(m.procid, "1234");
  EXPECT_EQ(m.msg, "Accepted publickey for root");

  m = ok("<13>2024-05-01T12:00:00.123456+02:00 web-1 nginx[9]: GET / 200");  // rsyslog ISO
  EXPECT_TRUE(m.timestamp.has_year);
  EXPECT_EQ(m.timestamp.iso8601(), "2024-05-01T12:00:00.123456+02:00");
  EXPECT_EQ(m.hostname, "web-1");
  EXPECT_EQ(m.appname, "nginx");
  EXPECT_EQ(m.procid, "9");
  EXPECT_EQ(m.msg, "GET / 200");

  m = ok("<6>Feb  5 17:32:18 host [ 42.123456] usb 1-1: new device");  // a message in brackets
  EXPECT_EQ(m.hostname, "host");
  EXPECT_EQ(m.appname, "");
  EXPECT_EQ(m.msg, "[ 42.123456] usb 1-1: new device");

  m = ok("<13>myapp: hello");  // no timestamp, no hostname
  EXPECT_FALSE(m.timestamp.present);
  EXPECT_EQ(m.appname, "myapp");
  EXPECT_EQ(m.msg, "hello");

  m = ok("<13>just some text: with a colon later");
  EXPECT_EQ(m.appname, "");
  EXPECT_EQ(m.msg, "just some text: with a colon later");

  m = ok("<13>Feb 31 17:32:18 host x: y");  // not a date: the whole rest is the message
  EXPECT_FALSE(m.timestamp.present);
  EXPECT_EQ(m.msg, "Feb 31 17:32:18 host x: y");

  EXPECT_EQ(ok("<13>").msg, "");
}

TEST(SyslogBare, ALineWithoutPriIsUserNotice) {
  auto m = ok("plain text from a script");
  EXPECT_EQ(m.format, syslog_format::bare);
  EXPECT_TRUE(m.pri_missing);
  EXPECT_EQ(m.facility, 1);
  EXPECT_EQ(m.severity, 5);
  EXPECT_EQ(m.msg, "plain text from a script");
}

}  // namespace
}  // namespace logship
