#include "vlb/core/text.h"

#include <cctype>

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

}  // namespace vlb
