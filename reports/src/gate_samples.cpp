// Per-sample evidence in baseline files (`vlb bless --stat`) and the tests `vlb check --stat`
// runs on it: exact McNemar on packed per-row correctness, or the blessed bootstrap interval.
#include <boost/math/distributions/binomial.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "baseline_file.h"
#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/reports/paired.h"

namespace vlb::baseline {

const char* test_name(Samples::Test t) {
  switch (t) {
    case Samples::kMcNemar: return "mcnemar";
    case Samples::kInterval: return "bootstrap_interval";
    case Samples::kNone: return "none";
  }
  return "";
}

namespace {

constexpr double kAlpha = 0.05;
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string pack(const std::vector<bool>& bits) {
  std::string bytes((bits.size() + 7) / 8, '\0');
  for (size_t i = 0; i < bits.size(); ++i)
    if (bits[i]) bytes[i / 8] = static_cast<char>(static_cast<unsigned char>(bytes[i / 8]) | (1u << (i % 8)));
  return bytes;
}

std::string base64(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[v & 63] : '=';
  }
  return out;
}

// Strict: whole quads, the standard alphabet, '=' only as the final padding.
bool unbase64(const std::string& in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      unsigned d = 0;
      if (c == '=') {
        if (i + 4 != in.size() || k < 2) return false;
        ++pad;
      } else {
        const char* at = std::find(kB64, kB64 + 64, c);
        if (at == kB64 + 64 || pad > 0) return false;
        d = static_cast<unsigned>(at - kB64);
      }
      v = (v << 6) | d;
    }
    out += static_cast<char>((v >> 16) & 255);
    if (pad < 2) out += static_cast<char>((v >> 8) & 255);
    if (pad < 1) out += static_cast<char>(v & 255);
  }
  return true;
}

std::string seed_list(const std::vector<int64_t>& seeds) {
  std::string s;
  for (int64_t x : seeds) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

std::string p_text(double p) { return fmt::format("{:.2g}", p); }

}  // namespace

std::string row_ids_hash(const std::vector<int64_t>& row_ids) {
  Sha256 h;
  for (int64_t id : row_ids) {
    unsigned char le[8];
    const auto u = static_cast<uint64_t>(id);
    for (int k = 0; k < 8; ++k) le[k] = static_cast<unsigned char>(u >> (8 * k));
    h.update(le, sizeof le);
  }
  return h.hex_digest();
}

Samples samples_of(const CellSamples& c) {
  Samples s;
  s.rows = static_cast<int64_t>(c.row_ids.size());
  if (s.rows == 0) throw DataError(c.file, "", "no evaluation rows: nothing to keep as per-sample data");
  s.row_ids = row_ids_hash(c.row_ids);
  s.seeds = c.seeds;
  if (s.seeds.empty() || !std::is_sorted(s.seeds.begin(), s.seeds.end()) ||
      std::adjacent_find(s.seeds.begin(), s.seeds.end()) != s.seeds.end())
    throw Error(c.file + ": per-sample data: seeds must be distinct and ascending, got " + seed_list(s.seeds));
  if (c.zero_one()) {
    s.test = Samples::kMcNemar;
    if (c.seed_index.size() != c.seeds.size()) throw Error(c.file + ": per-sample data: one index per seed expected");
    // Equal per-row values are stored once, in the order the seeds first use them.
    std::map<std::vector<bool>, int> index;
    for (int k : c.seed_index) {
      if (k < 0 || static_cast<size_t>(k) >= c.distinct.size() ||
          static_cast<int64_t>(c.distinct[k].size()) != s.rows)
        throw Error(c.file + ": per-sample data: a seed's per-row values do not cover the rows");
      auto [it, added] = index.emplace(c.distinct[k], static_cast<int>(s.bits.size()));
      if (added) s.bits.push_back(c.distinct[k]);
      s.seed_bits.push_back(it->second);
    }
  } else if (c.interval) {
    s.test = Samples::kInterval;
    s.interval = *c.interval;
  } else {
    if (c.no_test.empty())
      throw Error(c.file + ": per-sample data: a metric that is not 0/1 needs its bootstrap interval");
    s.test = Samples::kNone;
    s.reason = c.no_test;
  }
  return s;
}

Json samples_json(const Samples& s) {
  Json j = Json::object();
  j["test"] = test_name(s.test);
  j["rows"] = s.rows;
  j["row_ids"] = s.row_ids;
  j["seeds"] = s.seeds;
  if (s.test == Samples::kMcNemar) {
    j["seed_bits"] = s.seed_bits;
    Json bits = Json::array();
    for (const auto& b : s.bits) bits.push_back(base64(pack(b)));
    j["bits"] = std::move(bits);
  } else if (s.test == Samples::kNone) {
    j["reason"] = s.reason;
  } else {
    j["lo"] = s.interval.lo;
    j["hi"] = s.interval.hi;
    j["level"] = s.interval.level;
    j["resamples"] = s.interval.resamples;
    j["seed"] = s.interval.seed;
    j["effective_seeds"] = s.interval.effective_seeds;
  }
  return j;
}

Samples parse_samples(const std::string& file, const std::string& at, const Json& j) {
  if (!j.is_object()) throw DataError(file, at, "expected an object");
  Samples s;
  if (!j.contains("test") || !j["test"].is_string()) throw DataError(file, at + ".test", "missing or not a string");
  const std::string test = j["test"].get<std::string>();
  if (test == "mcnemar") s.test = Samples::kMcNemar;
  else if (test == "bootstrap_interval") s.test = Samples::kInterval;
  else if (test == "none") s.test = Samples::kNone;
  else throw DataError(file, at + ".test", "expected \"mcnemar\", \"bootstrap_interval\" or \"none\", got \"" + test + "\"");
  std::set<std::string> keys = {"test", "rows", "row_ids", "seeds"};
  if (s.test == Samples::kMcNemar) keys.insert({"seed_bits", "bits"});
  if (s.test == Samples::kInterval) keys.insert({"lo", "hi", "level", "resamples", "seed", "effective_seeds"});
  if (s.test == Samples::kNone) keys.insert("reason");
  for (const auto& kv : j.items())
    if (!keys.count(kv.key())) throw DataError(file, at + "." + kv.key(), "unknown key for a \"" + test + "\" entry");
  for (const auto& k : keys)
    if (!j.contains(k)) throw DataError(file, at + "." + k, "missing");
  auto integer = [&](const Json& v, const std::string& where, int64_t lo, int64_t hi) {
    if (!v.is_number_integer()) throw DataError(file, where, "expected an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw DataError(file, where, "out of range");
    const auto x = v.get<int64_t>();
    if (x < lo || x > hi) throw DataError(file, where, fmt::format("must be in [{}, {}]", lo, hi));
    return x;
  };
  auto ints = [&](const char* key) {
    const Json& a = j[key];
    const std::string where = at + "." + key;
    if (!a.is_array() || a.empty()) throw DataError(file, where, "expected a non-empty array");
    std::vector<int64_t> out;
    for (size_t i = 0; i < a.size(); ++i)
      out.push_back(integer(a[i], where + "[" + std::to_string(i) + "]", INT64_MIN, INT64_MAX));
    return out;
  };
  auto number = [&](const char* key) {
    if (!j[key].is_number() || !std::isfinite(j[key].get<double>()))
      throw DataError(file, at + "." + key, "expected a finite number");
    return j[key].get<double>();
  };
  s.rows = integer(j["rows"], at + ".rows", 1, INT64_MAX);
  const Json& h = j["row_ids"];
  if (!h.is_string() || h.get<std::string>().size() != 64 ||
      h.get<std::string>().find_first_not_of("0123456789abcdef") != std::string::npos)
    throw DataError(file, at + ".row_ids", "expected a sha256 (64 lowercase hex digits)");
  s.row_ids = h.get<std::string>();
  s.seeds = ints("seeds");
  for (size_t i = 1; i < s.seeds.size(); ++i)
    if (s.seeds[i] <= s.seeds[i - 1]) throw DataError(file, at + ".seeds", "must be distinct and ascending");
  if (s.test == Samples::kMcNemar) {
    const Json& bits = j["bits"];
    if (!bits.is_array() || bits.empty()) throw DataError(file, at + ".bits", "expected a non-empty array");
    const auto bytes = static_cast<size_t>((s.rows + 7) / 8);
    for (size_t k = 0; k < bits.size(); ++k) {
      const std::string where = at + ".bits[" + std::to_string(k) + "]";
      std::string raw;
      if (!bits[k].is_string() || !unbase64(bits[k].get<std::string>(), raw))
        throw DataError(file, where, "expected a base64 string");
      if (raw.size() != bytes)
        throw DataError(file, where, fmt::format("holds {} bytes, {} rows need {}", raw.size(), s.rows, bytes));
      std::vector<bool> b(static_cast<size_t>(s.rows));
      for (size_t i = 0; i < raw.size() * 8; ++i) {
        const bool on = (static_cast<unsigned char>(raw[i / 8]) >> (i % 8)) & 1u;
        if (i < b.size()) b[i] = on;
        else if (on) throw DataError(file, where, "padding bits beyond the last row must be 0");
      }
      s.bits.push_back(std::move(b));
    }
    const auto idx = ints("seed_bits");
    if (idx.size() != s.seeds.size())
      throw DataError(file, at + ".seed_bits", "expected one index per seed");
    std::vector<bool> used(s.bits.size());
    for (size_t i = 0; i < idx.size(); ++i) {
      if (idx[i] < 0 || static_cast<size_t>(idx[i]) >= s.bits.size())
        throw DataError(file, at + ".seed_bits[" + std::to_string(i) + "]", "not an index into bits");
      s.seed_bits.push_back(static_cast<int>(idx[i]));
      used[static_cast<size_t>(idx[i])] = true;
    }
    for (size_t k = 0; k < used.size(); ++k)
      if (!used[k]) throw DataError(file, at + ".bits[" + std::to_string(k) + "]", "used by no seed");
  } else if (s.test == Samples::kNone) {
    if (!j["reason"].is_string()) throw DataError(file, at + ".reason", "expected a string");
    s.reason = j["reason"].get<std::string>();
  } else {
    s.interval.lo = number("lo");
    s.interval.hi = number("hi");
    if (s.interval.lo > s.interval.hi) throw DataError(file, at + ".lo", "greater than hi");
    s.interval.level = number("level");
    if (!(s.interval.level > 0 && s.interval.level < 1)) throw DataError(file, at + ".level", "must be in (0, 1)");
    s.interval.resamples = static_cast<int>(integer(j["resamples"], at + ".resamples", 1, INT32_MAX));
    if (!j["seed"].is_number_unsigned()) throw DataError(file, at + ".seed", "expected an integer >= 0");
    s.interval.seed = j["seed"].get<uint64_t>();
    s.interval.effective_seeds = static_cast<int>(
        integer(j["effective_seeds"], at + ".effective_seeds", 1, static_cast<int64_t>(s.seeds.size())));
  }
  return s;
}

double binomial_upper_half(int64_t k, int64_t n) {
  if (n < 0 || k > n) throw Error("binomial: k = " + std::to_string(k) + " > n = " + std::to_string(n));
  if (k <= 0) return 1.0;
  boost::math::binomial_distribution<double> dist(static_cast<double>(n), 0.5);
  return boost::math::cdf(boost::math::complement(dist, static_cast<double>(k - 1)));
}

void check_rows(const std::string& file, size_t index, const Entry& e, const CellSamples& now) {
  const Samples& s = *e.samples;
  const std::string entry = fmt::format("{} entries[{}] ({})", file, index, describe(e));
  const std::string hash = row_ids_hash(now.row_ids);
  if (static_cast<int64_t>(now.row_ids.size()) != s.rows || hash != s.row_ids)
    throw DataError(now.file, "",
                    fmt::format("row ids differ from the blessed ones of {}: blessed {} rows (sha256 "
                                "{}…), here {} rows (sha256 {}…); the evaluation rows changed: "
                                "re-bless with `vlb bless --stat` if that was deliberate",
                                entry, s.rows, s.row_ids.substr(0, 12), now.row_ids.size(),
                                hash.substr(0, 12)));
  if (s.test != Samples::kMcNemar) return;
  if (!now.zero_one())
    throw DataError(now.file, "", fmt::format("metric '{}' has no per-row 0/1 values here, but had "
                                              "when {} was blessed", e.metric, entry));
  for (const auto& d : now.distinct)
    if (static_cast<int64_t>(d.size()) != s.rows)
      throw Error(now.file + ": per-sample data: a seed's per-row values do not cover the rows");
  bool common = false;
  for (int64_t seed : now.seeds) common |= std::binary_search(s.seeds.begin(), s.seeds.end(), seed);
  if (!common)
    throw DataError(file, fmt::format("entries[{}].samples.seeds", index),
                    fmt::format("no seed in common with the runs checked (blessed {}; checked {}): "
                                "the paired test pairs runs of the same seed",
                                seed_list(s.seeds), seed_list(now.seeds)));
}

StatDecision decide(const std::string& file, size_t index, const Entry& e, double actual,
                    const CellSamples& now) {
  check_rows(file, index, e, now);
  const Samples& s = *e.samples;
  StatDecision d;
  d.test = test_name(s.test);
  const bool lower_worse = e.direction == Direction::kHigherIsBetter ||
                           (e.direction == Direction::kBoth && actual < e.expected);
  if (s.test == Samples::kInterval) {
    d.lo = s.interval.lo;
    d.hi = s.interval.hi;
    const bool below = actual < d.lo, above = actual > d.hi;
    d.significant = e.direction == Direction::kBoth ? below || above : (lower_worse ? below : above);
    d.summary = fmt::format("{} the blessed {:g} % bootstrap interval [{:.6g}, {:.6g}] ({} resamples, "
                            "seed {})",
                            below ? "below" : above ? "above" : "inside", 100 * s.interval.level, d.lo,
                            d.hi, s.interval.resamples, s.interval.seed);
    return d;
  }
  // Pairs of distinct per-row values, one per seed both sides ran (see Note [statistical gate]).
  std::set<std::pair<int, int>> pairs;
  for (size_t i = 0; i < now.seeds.size(); ++i) {
    auto it = std::lower_bound(s.seeds.begin(), s.seeds.end(), now.seeds[i]);
    if (it != s.seeds.end() && *it == now.seeds[i])
      pairs.insert({s.seed_bits[static_cast<size_t>(it - s.seeds.begin())], now.seed_index[i]});
  }
  int64_t lost = 0, gained = 0;  // blessed 1 -> now 0, and 0 -> 1
  for (const auto& [b, n] : pairs) {
    const auto& was = s.bits[static_cast<size_t>(b)];
    const auto& is = now.distinct[static_cast<size_t>(n)];
    for (size_t r = 0; r < was.size(); ++r) {
      lost += was[r] && !is[r];
      gained += !was[r] && is[r];
    }
  }
  d.pairs = static_cast<int>(pairs.size());
  d.worse = lower_worse ? lost : gained;
  d.better = lower_worse ? gained : lost;
  d.p = e.direction == Direction::kBoth ? mcnemar_exact_p(d.worse, d.better)
                                        : binomial_upper_half(d.worse, d.worse + d.better);
  d.significant = d.p < kAlpha;
  d.summary = fmt::format("McNemar p = {} ({} rows worse, {} better; {} seed pair{})", p_text(d.p),
                          d.worse, d.better, d.pairs, d.pairs == 1 ? "" : "s");
  return d;
}

}  // namespace vlb::baseline
