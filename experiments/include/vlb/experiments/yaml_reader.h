#pragma once
// A located YAML tree for strict spec validation.
//
// Note [Own tree instead of YAML::Node]: yaml-cpp loses marks when nodes are cloned and shares
// storage when they are assigned, but a sweep copies spec values into many per-run configs and
// every error must still point at the value's own file:line:column (or at the `--set` that put it
// there). So specs are converted once into this plain value tree, where every node carries its
// location and its dotted path in the spec.
#include <cstdint>
#include <string>
#include <vector>

#include "vlb/core/params.h"

namespace vlb::yamlr {

struct Loc {
  std::string file;  // a path, or "--set a.b=v" for override values
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;
};

struct MapEntry;

struct Node {
  enum class Kind { kNull, kScalar, kSeq, kMap };
  Kind kind = Kind::kNull;
  std::string scalar;
  bool quoted = false;  // a quoted scalar is always a string
  std::vector<Node> seq;
  std::vector<MapEntry> map;  // file order (plan order depends on it)
  Loc loc;
  std::string path;  // dotted key in the spec, e.g. "methods[1].params.l2"

  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
};

struct MapEntry {
  std::string key;
  Loc key_loc;
  Node value;
};

/// Parses a file; ConfigError with file:line:col on a syntax error or unreadable file, a
/// directory, more than 16 MiB of text, more than VLB_MAX_YAML_NODES (default 200,000) nodes
/// once aliases are expanded, or nesting deeper than 256 levels.
Node load_file(const std::string& path);
/// The same for text already read from `path` (which only names it in errors).
Node load_text(const std::string& text, const std::string& path);
/// Parses `text` (an override value); every node is located at `origin`.
Node load_string(const std::string& text, const std::string& origin);

/// Deep merge: maps merge key by key (`over` wins), anything else is replaced by `over`.
void merge_into(Node& base, const Node& over);
/// Sets paths on every node below `n` (`prefix` is n's own path).
void assign_paths(Node& n, const std::string& prefix);

/// Applies one "a.b.0.c=v" override (v parsed as YAML). Missing map keys are created; a path
/// through a scalar or a bad list index is a ConfigError naming the override.
void apply_override(Node& root, const std::string& override_text);

// ---- Strict accessors: each throws ConfigError at the node's location naming its path ----------
[[noreturn]] void fail(const Node& n, const std::string& message);
[[noreturn]] void fail_at(const Loc& loc, const std::string& path, const std::string& message);
std::string describe(const Node& n);  // "a list", "a map", "'abc'", "null" for messages

const Node& expect_map(const Node& n);
const Node& expect_seq(const Node& n, bool non_empty);
/// Unknown key -> error at the key with a "did you mean" hint and the allowed keys.
void check_keys(const Node& map, const std::vector<std::string>& allowed);
const Node& require(const Node& map, const std::string& key);

std::string as_string(const Node& n);
int64_t as_int(const Node& n);

/// Converts a scalar to the declared type (strict full-string parsing: "1e-3" is a float, "4.5"
/// is not an int, a quoted "0.1" is a string).
ParamValue to_param_value(const Node& n, ParamType type);

}  // namespace vlb::yamlr
