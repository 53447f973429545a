#pragma once
#include <string>

namespace vlb {

/// The current UTC time formatted with strftime (default ISO 8601, e.g. 2026-11-23T07:00:00Z).
std::string utc_now(const char* strftime_format = "%Y-%m-%dT%H:%M:%SZ");

}  // namespace vlb
