#include "vlb/experiments/yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "vlb/core/registry.h"

namespace vlb::yamlr {
namespace {

Loc loc_of(const YAML::Mark& m, const std::string& file, bool located) {
  Loc l;
  l.file = file;
  if (located && !m.is_null()) {
    l.line = m.line + 1;
    l.column = m.column + 1;
  }
  return l;
}

// Note [YAML size limits]: yaml-cpp expands an alias into a shared node, so a few hundred bytes of
// nested aliases ("billion laughs") describe billions of nodes; it is this conversion into our own
// tree that would materialise them. Counting nodes here bounds memory by the limit, whatever the
// text; the depth bound keeps the recursion off the end of the stack.
struct Budget {
  const std::string& file;
  bool located;
  size_t nodes_left;
  int depth = 0;
};

constexpr size_t kDefaultMaxNodes = 200000;  // ~80 MB of Node; real specs have a few thousand
constexpr int kMaxDepth = 256;
constexpr uintmax_t kMaxBytes = 16u << 20;

size_t max_nodes() {
  const char* env = std::getenv("VLB_MAX_YAML_NODES");
  if (!env || !*env) return kDefaultMaxNodes;
  char* end = nullptr;
  unsigned long long v = std::strtoull(env, &end, 10);
  if (*end != '\0' || v == 0)
    throw ConfigError(std::string("VLB_MAX_YAML_NODES: expected a positive integer, got '") + env + "'");
  return static_cast<size_t>(v);
}

Node convert(const YAML::Node& y, Budget& b) {
  const std::string& file = b.file;
  const bool located = b.located;
  Node n;
  n.loc = loc_of(y.Mark(), file, located);
  if (b.nodes_left == 0)
    fail_at(n.loc, "", fmt::format("the document expands to more than {} YAML nodes (aliases "
                                   "count once per use; VLB_MAX_YAML_NODES raises the limit)",
                                   max_nodes()));
  --b.nodes_left;
  if (b.depth >= kMaxDepth)
    fail_at(n.loc, "", fmt::format("nesting deeper than {} levels", kMaxDepth));
  struct Deeper {
    int& d;
    explicit Deeper(int& x) : d(x) { ++d; }
    ~Deeper() { --d; }
  } deeper(b.depth);
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = Node::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::kScalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";  // yaml-cpp tags quoted scalars "!" and plain ones "?"
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::kSeq;
      for (const auto& item : y) n.seq.push_back(convert(item, b));
      break;
    case YAML::NodeType::Map: {
      n.kind = Node::Kind::kMap;
      std::set<std::string> seen;
      for (const auto& kv : y) {
        Loc kl = loc_of(kv.first.Mark(), file, located);
        if (!kv.first.IsScalar()) fail_at(kl, "", "map keys must be plain scalars");
        std::string key = kv.first.Scalar();
        // yaml-cpp keeps duplicate keys silently; a spec with two values for one key is ambiguous.
        if (!seen.insert(key).second) fail_at(kl, key, "duplicate key");
        n.map.push_back(MapEntry{key, kl, convert(kv.second, b)});
      }
      break;
    }
  }
  return n;
}

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

bool parse_float(const std::string& s, double* out) {
  // strtod also accepts hex, "inf", "nan" and leading spaces; YAML numbers are decimal only.
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-'))
      return false;
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

}  // namespace

const Node* Node::find(const std::string& key) const {
  for (const auto& e : map)
    if (e.key == key) return &e.value;
  return nullptr;
}
Node* Node::find(const std::string& key) {
  for (auto& e : map)
    if (e.key == key) return &e.value;
  return nullptr;
}

Node load_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError(path, 0, 0, "", "is a directory; expected a YAML spec file");
  std::ifstream probe(path, std::ios::binary);
  if (!probe) {
    const int err = errno;
    if (is_environment_errno(err))
      throw EnvironmentError(path, "", std::string("cannot open the spec file: ") + std::strerror(err));
    throw ConfigError(path, 0, 0, "", "cannot open the spec file");
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxBytes)
    throw ConfigError(path, 0, 0, "", fmt::format("{} bytes is more than a spec may have ({} MiB)",
                                                  size, kMaxBytes >> 20));
  std::string text((std::istreambuf_iterator<char>(probe)), std::istreambuf_iterator<char>());
  if (probe.bad()) throw ConfigError(path, 0, 0, "", "read failed");
  return load_text(text, path);
}

Node load_text(const std::string& text, const std::string& path) {
  try {
    Budget b{path, true, max_nodes()};
    return convert(YAML::Load(text), b);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path, e.mark.is_null() ? 0 : e.mark.line + 1,
                      e.mark.is_null() ? 0 : e.mark.column + 1, "", e.msg);
  }
}

Node load_string(const std::string& text, const std::string& origin) {
  if (text.size() > kMaxBytes)
    throw ConfigError(origin, 0, 0, "", fmt::format("value of {} bytes is too long", text.size()));
  try {
    Budget b{origin, false, max_nodes()};
    return convert(YAML::Load(text), b);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin, 0, 0, "", "value is not valid YAML: " + e.msg);
  }
}

void merge_into(Node& base, const Node& over) {
  if (base.kind != Node::Kind::kMap || over.kind != Node::Kind::kMap) {
    base = over;
    return;
  }
  for (const auto& e : over.map) {
    if (Node* existing = base.find(e.key)) {
      merge_into(*existing, e.value);
    } else {
      base.map.push_back(e);
    }
  }
}

void assign_paths(Node& n, const std::string& prefix) {
  n.path = prefix;
  if (n.kind == Node::Kind::kSeq) {
    for (size_t i = 0; i < n.seq.size(); ++i)
      assign_paths(n.seq[i], prefix + "[" + std::to_string(i) + "]");
  } else if (n.kind == Node::Kind::kMap) {
    for (auto& e : n.map) assign_paths(e.value, prefix.empty() ? e.key : prefix + "." + e.key);
  }
}

void apply_override(Node& root, const std::string& text) {
  const std::string origin = "--set " + text;
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(origin, 0, 0, "", "expected KEY=VALUE (e.g. runtime.threads=2)");
  std::string path = text.substr(0, eq);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) throw ConfigError(origin, 0, 0, "", "empty component in key '" + path + "'");

  Node value = load_string(text.substr(eq + 1), origin);
  Loc here{origin, 0, 0};
  Node* cur = &root;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    bool last = i + 1 == parts.size();
    std::string at = walked.empty() ? "the top level" : "'" + walked + "'";
    Node* next = nullptr;
    if (cur->kind == Node::Kind::kNull) {  // "params:" left empty: becomes a map
      cur->kind = Node::Kind::kMap;
      cur->loc = here;
    }
    if (cur->kind == Node::Kind::kMap) {
      next = cur->find(p);
      if (!next) {
        Node fresh;
        fresh.loc = here;
        cur->map.push_back(MapEntry{p, here, fresh});
        next = &cur->map.back().value;
      }
    } else if (cur->kind == Node::Kind::kSeq) {
      int64_t idx = -1;
      if (!parse_int(p, &idx) || idx < 0 || idx >= static_cast<int64_t>(cur->seq.size()))
        throw ConfigError(origin, 0, 0, "",
                          "bad path: " + at + " is a list of " + std::to_string(cur->seq.size()) +
                              " items and '" + p + "' is not a valid index");
      next = &cur->seq[static_cast<size_t>(idx)];
    } else {
      throw ConfigError(origin, 0, 0, "",
                        "bad path: " + at + " is a scalar, it has no key '" + p + "'");
    }
    walked += (walked.empty() ? "" : ".") + p;
    if (last) *next = value;
    cur = next;
  }
}

void fail_at(const Loc& loc, const std::string& path, const std::string& message) {
  throw ConfigError(loc.file, loc.line, loc.column, path, message);
}

void fail(const Node& n, const std::string& message) { fail_at(n.loc, n.path, message); }

std::string describe(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return "null";
    case Node::Kind::kSeq: return "a list";
    case Node::Kind::kMap: return "a map";
    case Node::Kind::kScalar: return (n.quoted ? "string \"" : "'") + n.scalar +
                                     (n.quoted ? "\"" : "'");
  }
  return "?";
}

const Node& expect_map(const Node& n) {
  if (n.kind != Node::Kind::kMap) fail(n, "expected a map, got " + describe(n));
  return n;
}

const Node& expect_seq(const Node& n, bool non_empty) {
  if (n.kind != Node::Kind::kSeq) fail(n, "expected a list, got " + describe(n));
  if (non_empty && n.seq.empty()) fail(n, "expected a non-empty list");
  return n;
}

void check_keys(const Node& map, const std::vector<std::string>& allowed) {
  for (const auto& e : map.map) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == e.key;
    if (ok) continue;
    std::string msg = "unknown key '" + e.key + "'";
    std::string hint = did_you_mean(e.key, allowed);
    if (!hint.empty()) msg += "; " + hint;
    msg += " (allowed: ";
    for (size_t i = 0; i < allowed.size(); ++i) msg += (i ? ", " : "") + allowed[i];
    msg += ")";
    fail_at(e.key_loc, map.path.empty() ? e.key : map.path + "." + e.key, msg);
  }
}

const Node& require(const Node& map, const std::string& key) {
  const Node* n = map.find(key);
  if (!n) fail(map, "missing required key '" + key + "'");
  return *n;
}

std::string as_string(const Node& n) {
  if (n.kind != Node::Kind::kScalar) fail(n, "expected a string, got " + describe(n));
  return n.scalar;
}

int64_t as_int(const Node& n) {
  int64_t v = 0;
  if (n.kind != Node::Kind::kScalar || n.quoted || !parse_int(n.scalar, &v))
    fail(n, "expected an integer, got " + describe(n));
  return v;
}

ParamValue to_param_value(const Node& n, ParamType type) {
  auto type_error = [&]() {
    fail(n, std::string("expected ") + to_string(type) + ", got " + describe(n));
  };
  if (n.kind != Node::Kind::kScalar) type_error();
  if (type == ParamType::kString) return n.scalar;
  if (n.quoted) type_error();
  switch (type) {
    case ParamType::kInt: {
      int64_t v = 0;
      if (!parse_int(n.scalar, &v)) type_error();
      return v;
    }
    case ParamType::kFloat: {
      int64_t i = 0;
      if (parse_int(n.scalar, &i)) return static_cast<double>(i);
      double v = 0;
      if (!parse_float(n.scalar, &v)) type_error();
      return v;
    }
    case ParamType::kBool:
      if (n.scalar == "true" || n.scalar == "True" || n.scalar == "TRUE") return true;
      if (n.scalar == "false" || n.scalar == "False" || n.scalar == "FALSE") return false;
      type_error();
    case ParamType::kString:
      break;
  }
  return n.scalar;
}

}  // namespace vlb::yamlr
