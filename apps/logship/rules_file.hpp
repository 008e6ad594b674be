// logship's rules file (TOML), read into rules (rules.hpp), every mistake reported as
// "file:line:column: what was expected".
//
//   default_topic = "syslog"                 # where lines no rule forwards or drops go
//   [[rules]]
//   name = "auth"
//   field = "msg"                            # a syslog variable; default "msg"
//   regex = 'Accepted (?P<method>\w+) for (?P<user>\w+)'   # or: jmespath = "level == 'error'"
//   actions = [
//     { replace = '{"user":"{{user}}"}' },
//     { forward = "auth.{{method}}" },       # also: { merge = '...' }, { drop = true }, { stop =
//     true }
//   ]
//
// Thread safety: a pure function.
#pragma once

#include "rules.hpp"

#include <weir/core/result.hpp>

#include <span>
#include <string_view>

namespace logship {

// Parses and checks `text` (the contents of `file`, named in errors): TOML syntax, known keys
// and types, then every rule (rules::compile: regexes, JMESPath, templates).
// Keys in `also_known` (another part of the file's, the caller's) are left alone.
weir::result<rules> load_rules(std::string_view text, std::string_view file,
                               std::span<const std::string_view> also_known = {});

}  // namespace logship
