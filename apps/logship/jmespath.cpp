#include "jmespath.hpp"

#include <weir/http/json.hpp>

#include <simdjson.h>

#include <charconv>
#include <vector>

namespace logship {

namespace {

namespace dom = simdjson::dom;

// A value met during evaluation. Objects and arrays stay in the document; a filter's result is
// a list (a projection: the steps after it apply to each item).
struct val {
  enum kind_t { null, boolean, number, string, object, array, list } kind = null;
  bool b = false;
  double n = 0;
  std::string s;   // string: the text; number: its JSON text
  dom::element e;  // object, array
  std::vector<val> items;
};

void to_json(const val& v, std::string& out) {
  switch (v.kind) {
    case val::null: out += "null"; break;
    case val::boolean: out += v.b ? "true" : "false"; break;
    case val::number: out += v.s; break;
    case val::string: weir::http::json_escape(out, v.s); break;
    case val::object:
    case val::array: out += simdjson::minify(v.e); break;
    case val::list:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        to_json(v.items[i], out);
      }
      out += ']';
      break;
  }
}

val of(dom::element e) {
  val v;
  switch (e.type()) {
    case dom::element_type::OBJECT: v.kind = val::object, v.e = e; break;
    case dom::element_type::ARRAY: v.kind = val::array, v.e = e; break;
    case dom::element_type::STRING:
      v.kind = val::string, v.s = std::string(e.get_string().value());
      break;
    case dom::element_type::BOOL: v.kind = val::boolean, v.b = e.get_bool().value(); break;
    case dom::element_type::NULL_VALUE: break;
    default:  // numbers
      v.kind = val::number;
      v.n = e.is_double()  ? e.get_double().value()
            : e.is_int64() ? static_cast<double>(e.get_int64().value())
                           : static_cast<double>(e.get_uint64().value());
      v.s = simdjson::minify(e);
  }
  return v;
}

bool truthy(const val& v) {
  switch (v.kind) {
    case val::null: return false;
    case val::boolean: return v.b;
    case val::number: return true;
    case val::string: return !v.s.empty();
    case val::object: return v.e.get_object().value().size() > 0;
    case val::array: return v.e.get_array().value().size() > 0;
    case val::list: return !v.items.empty();
  }
  return false;
}

bool equal(const val& a, const val& b) {
  const bool a_arr = a.kind == val::array || a.kind == val::list;
  const bool b_arr = b.kind == val::array || b.kind == val::list;
  if (a.kind != b.kind && !(a_arr && b_arr)) return false;
  switch (a.kind) {
    case val::null: return true;
    case val::boolean: return a.b == b.b;
    case val::number: return a.n == b.n;
    case val::string: return a.s == b.s;
    default: {
      std::string x, y;
      to_json(a, x);
      to_json(b, y);
      return x == y;
    }
  }
}

}  // namespace

struct jmespath::node {
  enum kind_t { field, index, filter, current, literal, path, or_, and_, not_, cmp } kind;
  std::string name;   // field
  long long idx = 0;  // index
  val lit;            // literal
  enum op_t { eq, ne, lt, le, gt, ge } op = eq;
  std::vector<std::shared_ptr<const node>> kids;  // path: base + steps; binary: 2; not/filter: 1
};

namespace {

using node = jmespath::node;
using node_ptr = std::shared_ptr<const node>;

val eval(const node& n, const val& cur);

val step(const node& s, const val& v) {
  if (v.kind == val::list) {  // a projection: the step applies to each item
    val out;
    out.kind = val::list;
    for (const val& item : v.items) {
      val r = step(s, item);
      if (r.kind != val::null) out.items.push_back(std::move(r));
    }
    return out;
  }
  switch (s.kind) {
    case node::field: {
      if (v.kind != val::object) return {};
      dom::element e;
      if (v.e.get_object().value().at_key(s.name).get(e) != simdjson::SUCCESS) return {};
      return of(e);
    }
    case node::index: {
      if (v.kind != val::array) return {};
      dom::array a = v.e.get_array().value();
      const long long size = static_cast<long long>(a.size());
      const long long i = s.idx < 0 ? size + s.idx : s.idx;
      if (i < 0 || i >= size) return {};
      return of(a.at(static_cast<std::size_t>(i)).value());
    }
    case node::filter: {
      if (v.kind != val::array) return {};
      val out;
      out.kind = val::list;
      const dom::array arr = v.e.get_array().value();
      for (dom::element e : arr) {
        val item = of(e);
        if (truthy(eval(*s.kids[0], item))) out.items.push_back(std::move(item));
      }
      return out;
    }
    default: return eval(s, v);
  }
}

val eval(const node& n, const val& cur) {
  switch (n.kind) {
    case node::current: return cur;
    case node::literal: return n.lit;
    case node::field:
    case node::index:
    case node::filter: return step(n, cur);
    case node::path: {
      val v = eval(*n.kids[0], cur);
      for (std::size_t i = 1; i < n.kids.size(); ++i) v = step(*n.kids[i], v);
      return v;
    }
    case node::or_: {
      val a = eval(*n.kids[0], cur);
      return truthy(a) ? a : eval(*n.kids[1], cur);
    }
    case node::and_: {
      val a = eval(*n.kids[0], cur);
      return truthy(a) ? eval(*n.kids[1], cur) : a;
    }
    case node::not_: {
      val r;
      r.kind = val::boolean;
      r.b = !truthy(eval(*n.kids[0], cur));
      return r;
    }
    case node::cmp: {
      const val a = eval(*n.kids[0], cur), b = eval(*n.kids[1], cur);
      val r;
      r.kind = val::boolean;
      if (n.op == node::eq) return r.b = equal(a, b), r;
      if (n.op == node::ne) return r.b = !equal(a, b), r;
      if (a.kind != val::number || b.kind != val::number) return {};  // JMESPath: null
      r.b = n.op == node::lt   ? a.n < b.n
            : n.op == node::le ? a.n <= b.n
            : n.op == node::gt ? a.n > b.n
                               : a.n >= b.n;
      return r;
    }
  }
  return {};
}

// Recursive descent over the expression; errors carry the column (1-based).
struct parser {
  std::string_view s;
  std::size_t i = 0;
  std::string error;

  bool fail(std::string what) {
    if (error.empty()) error = "column " + std::to_string(i + 1) + ": " + what;
    return false;
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  bool eat(std::string_view t) {
    ws();
    if (s.substr(i, t.size()) != t) return false;
    i += t.size();
    return true;
  }
  static bool id_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static bool id_char(char c) { return id_start(c) || (c >= '0' && c <= '9'); }

  // A quoted string's text between `q` quotes (JSON-style \q and \\ escapes).
  bool quoted(char q, std::string& out) {
    ++i;
    while (i < s.size() && s[i] != q) {
      if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == q || s[i + 1] == '\\')) ++i;
      out += s[i++];
    }
    if (i >= s.size()) return fail(std::string("unterminated ") + q + "..." + q);
    ++i;
    return true;
  }

  node_ptr leaf_field() {
    ws();
    auto n = std::make_shared<node>();
    n->kind = node::field;
    if (i < s.size() && s[i] == '"') {
      if (!quoted('"', n->name)) return nullptr;
      return n;
    }
    if (i >= s.size() || !id_start(s[i])) {
      fail("expected an identifier");
      return nullptr;
    }
    const std::size_t b = i;
    while (i < s.size() && id_char(s[i])) ++i;
    n->name = std::string(s.substr(b, i - b));
    return n;
  }

  node_ptr primary() {
    ws();
    if (i >= s.size()) return fail("expected an expression"), nullptr;
    const char c = s[i];
    if (c == '(') {
      ++i;
      node_ptr e = expr();
      if (!e) return nullptr;
      if (!eat(")")) return fail("expected ')'"), nullptr;
      return e;
    }
    if (c == '@') {
      ++i;
      auto n = std::make_shared<node>();
      n->kind = node::current;
      return n;
    }
    if (c == '\'') {
      auto n = std::make_shared<node>();
      n->kind = node::literal;
      n->lit.kind = val::string;
      if (!quoted('\'', n->lit.s)) return nullptr;
      return n;
    }
    if (c == '`') {
      const std::size_t at = i;
      std::string text;
      if (!quoted('`', text)) return nullptr;
      auto n = std::make_shared<node>();
      n->kind = node::literal;
      if (!literal(text, n->lit)) {
        i = at;
        return fail("expected a scalar JSON literal (a number, a string, true, false, null)"),
               nullptr;
      }
      return n;
    }
    if (c == '[') return fail("wildcards, slices and multiselect lists are not supported"), nullptr;
    if (c == '*') return fail("wildcards are not supported"), nullptr;
    if (c == '{') return fail("multiselect hashes are not supported"), nullptr;
    if (c == '&') return fail("expression references are not supported"), nullptr;
    node_ptr f = leaf_field();
    if (f && (ws(), i < s.size() && s[i] == '('))
      return fail("functions are not supported"), nullptr;
    return f;
  }

  static bool literal(std::string_view text, val& out) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text == "null") return out.kind = val::null, true;
    if (text == "true" || text == "false")
      return out.kind = val::boolean, out.b = text == "true", true;
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
      out.kind = val::string;
      out.s = std::string(text.substr(1, text.size() - 2));
      return out.s.find_first_of("\"\\") == std::string::npos;
    }
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return false;
    out.kind = val::number;
    out.n = d;
    out.s = std::string(text);
    return true;
  }

  node_ptr path() {
    node_ptr base = primary();
    if (!base) return nullptr;
    auto p = std::make_shared<node>();
    p->kind = node::path;
    p->kids.push_back(base);
    for (;;) {
      ws();
      if (i < s.size() && s[i] == '.') {
        ++i;
        ws();
        if (i < s.size() && (s[i] == '*' || s[i] == '[' || s[i] == '{'))
          return fail("wildcards and multiselect are not supported"), nullptr;
        node_ptr f = leaf_field();
        if (!f) return nullptr;
        p->kids.push_back(f);
      } else if (s.substr(i, 2) == "[?") {
        i += 2;
        node_ptr cond = expr();
        if (!cond) return nullptr;
        if (!eat("]")) return fail("expected ']' after the filter"), nullptr;
        auto f = std::make_shared<node>();
        f->kind = node::filter;
        f->kids.push_back(cond);
        p->kids.push_back(f);
      } else if (i < s.size() && s[i] == '[') {
        ++i;
        ws();
        const std::size_t b = i;
        if (i < s.size() && s[i] == '-') ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        long long v = 0;
        auto [q, ec] = std::from_chars(s.data() + b, s.data() + i, v);
        if (ec != std::errc() || q != s.data() + i) {
          i = b;
          return fail("expected an index (wildcards, slices and flatten are not supported)"),
                 nullptr;
        }
        if (!eat("]")) return fail("expected ']' after the index"), nullptr;
        auto f = std::make_shared<node>();
        f->kind = node::index;
        f->idx = v;
        p->kids.push_back(f);
      } else {
        break;
      }
    }
    return p->kids.size() == 1 ? base : p;
  }

  node_ptr comparison() {
    node_ptr a = path();
    if (!a) return nullptr;
    static constexpr std::pair<std::string_view, node::op_t> ops[] = {
        {"==", node::eq}, {"!=", node::ne}, {"<=", node::le},
        {">=", node::ge}, {"<", node::lt},  {">", node::gt}};
    ws();
    for (auto [t, op] : ops) {
      if (s.substr(i, t.size()) != t) continue;
      i += t.size();
      node_ptr b = path();
      if (!b) return nullptr;
      auto n = std::make_shared<node>();
      n->kind = node::cmp;
      n->op = op;
      n->kids = {a, b};
      return n;
    }
    return a;
  }

  node_ptr negation() {
    ws();
    if (i < s.size() && s[i] == '!' && s.substr(i, 2) != "!=") {
      ++i;
      if (++depth > max_depth) return fail("nested deeper than 64"), nullptr;
      node_ptr e = negation();
      --depth;
      if (!e) return nullptr;
      auto n = std::make_shared<node>();
      n->kind = node::not_;
      n->kids.push_back(e);
      return n;
    }
    return comparison();
  }

  node_ptr binary(node_ptr (parser::*sub)(), std::string_view op, node::kind_t k) {
    node_ptr a = (this->*sub)();
    while (a && eat(op)) {
      node_ptr b = (this->*sub)();
      if (!b) return nullptr;
      auto n = std::make_shared<node>();
      n->kind = k;
      n->kids = {a, b};
      a = n;
    }
    return a;
  }
  node_ptr conjunction() { return binary(&parser::negation, "&&", node::and_); }
  // Nesting (parentheses, filters, '!') is bounded: the parser and the evaluator recurse.
  node_ptr expr() {
    if (++depth > max_depth) return fail("nested deeper than 64"), nullptr;
    node_ptr e = binary(&parser::conjunction, "||", node::or_);
    --depth;
    return e;
  }
  static constexpr int max_depth = 64;
  int depth = 0;
};

}  // namespace

weir::result<jmespath> jmespath::compile(std::string_view expression) {
  // Bounded, as the nesting is: evaluation recurses along chains of || and && too.
  if (expression.size() > 4096)
    return weir::unexpected(weir::errc::invalid_input, "expression longer than 4096 characters (" +
                                                           std::to_string(expression.size()) + ")");
  parser p{expression};
  node_ptr root = p.expr();
  if (root) {
    p.ws();
    if (p.i < expression.size()) {
      if (expression[p.i] == '|')
        p.fail("pipes are not supported");
      else
        p.fail("unexpected '" + std::string(1, expression[p.i]) + "'");
      root = nullptr;
    }
  }
  if (!root) return weir::unexpected(weir::errc::invalid_input, p.error);
  jmespath j;
  j.root_ = std::move(root);
  return j;
}

weir::result<jmespath::value> jmespath::evaluate(std::string_view json) const {
  thread_local dom::parser parser;
  dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err != simdjson::SUCCESS)
    return weir::unexpected(weir::errc::invalid_input,
                            std::string("not JSON: ") + simdjson::error_message(err));
  const val r = eval(*root_, of(doc));
  value out;
  out.truthy = truthy(r);
  to_json(r, out.json);
  return out;
}

}  // namespace logship
