#include "vlb/core/text.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "vlb/core/error.h"

namespace vlb {

std::string canonical_label(const std::string& s, const std::string& mode) {
  if (mode == "none") return s;
  if (mode != "case" && mode != "full")
    throw ConfigError("label canonicalization '" + mode + "': expected none, case or full");
  std::string out;
  out.reserve(s.size());
  for (unsigned char ch : s) {
    char c = static_cast<char>(std::tolower(ch));
    if (std::isspace(ch) || (mode == "full" && ch < 128 && std::ispunct(ch))) c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string word_bag_key(const std::string& s, const std::string& mode) {
  std::istringstream in(canonical_label(s, mode));
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  std::sort(words.begin(), words.end());
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace vlb
