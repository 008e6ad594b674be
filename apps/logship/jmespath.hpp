// logship's JMESPath: the part of it that log rules need, compiled at load (anything else is an
// error naming its column) and evaluated on a JSON message.
//
//   auto q = logship::jmespath::compile("level == 'error' && service.name == 'api'");
//   if (!q) fail(file, line, q.error().context());  // "column 7: expected ..."
//   auto r = q->evaluate(R"({"level":"error","service":{"name":"api"}})");
//   if (r && r->truthy) ...                          // r->json: the result as JSON text
//
// Supported: identifiers (a, "quoted id"), sub-expressions (a.b.c), indexes (a[0], a[-1]),
// filters on arrays (items[?kind=='x'], projecting what follows: items[?x].name), the current
// node @, comparisons == != < <= > >= (the ordering ones on numbers), ||, && and ! (JMESPath's
// truthiness: false, null, "", [] and {} are false), parentheses, raw string literals 'x' and
// scalar JSON literals (`42`, `"x"`, `true`, `null`). Not supported (a compile error):
// wildcards, slices, multiselect, pipes, functions, object and array literals. An expression
// is at most 4096 characters and nests at most 64 deep.
//
// Thread safety: a compiled expression is immutable; evaluate from any thread.
#pragma once

#include <weir/core/result.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace logship {

class jmespath {
 public:
  static weir::result<jmespath> compile(std::string_view expression);

  struct value {
    bool truthy = false;
    std::string json;  // the result as compact JSON; "null" when the expression found nothing
  };
  // Errors: `json` is not a JSON document (errc::invalid_input, simdjson's reason).
  weir::result<value> evaluate(std::string_view json) const;

  struct node;  // the parsed expression (jmespath.cpp)

 private:
  std::shared_ptr<const node> root_;
};

}  // namespace logship
