// Machine-readable `vlb check` results: JUnit XML for CI test tabs, JSON for scripts.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "vlb/reports/gate.h"
#include "vlb/reports/svg.h"

namespace vlb {
namespace {

// XML 1.0 forbids most control characters even escaped: they are dropped.
std::string xml(const std::string& s) {
  std::string clean;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') clean += c;
  return svg::xml_escape(clean);
}

std::string case_name(const CheckEntry& e) {
  std::string where = e.row.empty() ? "" : e.row;
  if (!e.column.empty()) where += " | " + e.column;
  return fmt::format("[{}] {} {}", e.index, where, e.metric);
}

std::string numbers(const CheckEntry& e) {
  std::string actual = e.actual ? fmt::format("{:.6g}", *e.actual) : "none";
  std::string delta = e.actual ? fmt::format("{:+.6g}", *e.actual - e.expected) : "none";
  return fmt::format("expected {:.6g}, actual {}, delta {}, allowed {:.3g}", e.expected, actual, delta,
                     e.allowed);
}

}  // namespace

std::string check_junit_xml(const CheckResult& r, const std::string& suite_name) {
  int skipped = 0;
  for (const auto& e : r.entries) skipped += !e.gate;
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += fmt::format("<testsuites name=\"vlb check\" tests=\"{}\" failures=\"{}\">\n", r.entries.size(),
                   r.failures);
  s += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">\n",
                   xml(suite_name), r.entries.size(), r.failures, skipped);
  if (r.stat || !r.warnings.empty()) {
    s += "    <properties>\n";
    if (r.stat) s += "      <property name=\"mode\" value=\"stat\"/>\n";
    for (const auto& w : r.warnings) s += "      <property name=\"warning\" value=\"" + xml(w) + "\"/>\n";
    s += "    </properties>\n";
  }
  for (const auto& e : r.entries) {
    s += fmt::format("    <testcase classname=\"{}\" name=\"{}\"", xml(suite_name), xml(case_name(e)));
    std::string text = numbers(e) + (e.message.empty() ? "" : "; " + e.message);
    if (r.stat) text += "; decided by " + e.test;
    if (e.failed) {
      s += ">\n      <failure type=\"" + xml(e.status) + "\" message=\"" + xml(e.status + ": " + text) +
           "\">" + xml(text) + "</failure>\n    </testcase>\n";
    } else if (!e.gate && e.status != "ok") {
      s += ">\n      <skipped message=\"" + xml("not gated: " + e.status + ": " + text) +
           "\"/>\n    </testcase>\n";
    } else {
      s += ">\n      <system-out>" + xml(e.status + ": " + text) + "</system-out>\n    </testcase>\n";
    }
  }
  s += "  </testsuite>\n</testsuites>\n";
  return s;
}

std::string check_json(const CheckResult& r) {
  nlohmann::ordered_json j;
  j["baseline"] = r.baseline_file;
  j["mode"] = r.stat ? "stat" : "exact";
  j["failures"] = r.failures;
  j["improvements"] = r.improvements;
  j["warnings"] = r.warnings;
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& e : r.entries) {
    nlohmann::ordered_json x;
    x["index"] = e.index;
    x["identity"] = e.identity;
    x["row"] = e.row;
    x["column"] = e.column;
    x["metric"] = e.metric;
    x["expected"] = e.expected;
    // JSON has no NaN: a missing or non-finite value is null.
    bool finite = e.actual && std::isfinite(*e.actual);
    x["actual"] = finite ? nlohmann::ordered_json(*e.actual) : nlohmann::ordered_json();
    x["delta"] = finite ? nlohmann::ordered_json(*e.actual - e.expected) : nlohmann::ordered_json();
    x["allowed"] = e.allowed;
    x["gate"] = e.gate;
    x["status"] = e.status;
    x["failed"] = e.failed;
    x["message"] = e.message;
    nlohmann::ordered_json ch = nlohmann::ordered_json::array();
    for (const auto& c : e.changes) ch.push_back({{"key", c.key}, {"expected", c.expected}, {"actual", c.actual}});
    x["changes"] = ch;
    x["test"] = e.test;
    if (e.p_value) {
      x["p_value"] = *e.p_value;
      x["worse_rows"] = e.worse_rows;
      x["better_rows"] = e.better_rows;
      x["seed_pairs"] = e.seed_pairs;
    }
    if (e.interval_lo) x["interval"] = {*e.interval_lo, *e.interval_hi};
    arr.push_back(std::move(x));
  }
  j["entries"] = arr;
  return j.dump(2) + "\n";
}

}  // namespace vlb
