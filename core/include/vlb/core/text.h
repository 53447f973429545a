#pragma once
// Text helpers shared by converters, methods and metrics: one canonical form for class names and
// free-form labels, so that "Golden_Retriever", "golden-retriever." and "golden retriever" compare
// equal wherever names are matched.
#include <string>

namespace vlb {

/// Canonical form of a name. "none" keeps the string; "case" lower-cases ASCII letters, maps
/// whitespace to spaces, collapses runs of spaces and trims; "full" also maps ASCII punctuation
/// ('_', '-', '/', '.', ...) to spaces. Non-ASCII bytes (UTF-8) are kept as they are.
/// Throws ConfigError for another mode.
std::string canonical_label(const std::string& s, const std::string& mode = "full");

/// canonical_label(s, mode) with its words sorted, so names that differ only in word order
/// ("indoor_bathroom", "bathroom/indoor") share a key.
std::string word_bag_key(const std::string& s, const std::string& mode = "full");

}  // namespace vlb
