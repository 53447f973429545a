// `vlb diff A B`: why a number changed between two run directories or two experiments' result
// trees. Prints the resolved config keys that differ, the run key inputs (dataset fingerprints,
// method and metric versions), where the runs ran (git SHA, threads, library versions), then the
// metric deltas of every matched run, with an exact McNemar test on top-1 correctness where both
// sides kept predictions.h5 for the same rows.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/predictions.h"
#include "vlb/reports/current_plan.h"
#include "vlb/reports/paired.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb::cli {
namespace {

struct Side {
  std::string path;
  bool single = false;  // one run directory (else an experiment tree)
  std::vector<RunRecord> runs;
  int not_current = 0;  // run directories left out: not in .plan/current.json
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); !from.empty() && p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// load_runs reads experiment trees; a lone run directory is read through a temporary tree that
// holds only a link to it, so that one reader parses every run file.
RunRecord load_one_run(const std::string& dir) {
  static int counter = 0;
  fs::path tmp = fs::temp_directory_path() / fmt::format("vlb-diff-{}-{}", getpid(), counter++);
  fs::create_directories(tmp);
  std::vector<RunRecord> runs;
  try {
    fs::create_directory_symlink(fs::absolute(dir), tmp / "run");
    runs = load_runs(tmp.string());
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw DataError(replace_all(e.what(), (tmp / "run").string(), dir));
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);  // the link, never its target
  runs.at(0).dir = dir;
  return runs.at(0);
}

Side load_side(const std::string& path) {
  Side s;
  s.path = path;
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw DataError(path, "", "no such directory (vlb diff takes two run directories or two "
                              "results/<experiment> trees)");
  if (!fs::is_directory(path, ec)) throw DataError(path, "", "not a directory");
  if (fs::exists(fs::path(path) / "metrics.json")) {
    s.single = true;
    s.runs.push_back(load_one_run(path));
    return s;
  }
  std::vector<RunRecord> all = load_runs(path);
  auto cp = read_current_plan(path);
  std::set<std::string> current = cp ? cp->key_set() : std::set<std::string>{};
  for (auto& r : all) {
    if (cp && !current.count(r.run_key)) {
      ++s.not_current;
      continue;
    }
    s.runs.push_back(std::move(r));
  }
  if (s.runs.empty())
    throw DataError(path, "", all.empty() ? "no run directories (neither a run nor an experiment)"
                                          : "no run of the current plan (.plan/current.json)");
  return s;
}

std::string get(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? "" : it->second;
}

bool is_path_param(const std::string& key) {
  return key.rfind("dataset.params.", 0) == 0 && key.size() >= 5 && key.compare(key.size() - 4, 4, "path") == 0;
}

// Config keys that say what ran: two runs with equal values are the same experiment point. The
// dataset is named by its content (fingerprint) and name, not by where its file lies.
bool is_identity_key(const std::string& key) {
  if (is_path_param(key)) return false;
  return key.rfind("method.", 0) == 0 || key.rfind("dataset.", 0) == 0 || key == "ablation" ||
         key == "runtime.seed";
}

std::string identity(const RunRecord& r) {
  std::string id;
  for (const auto& [k, v] : r.config)
    if (is_identity_key(k)) id += k + "=" + v + "\n";
  return id + "fingerprint=" + get(r.env, "dataset.fingerprint") + "\nname=" + get(r.env, "dataset.name");
}

std::string show(const std::string& v) { return v.empty() ? "(absent)" : v; }

/// A short name per run: method, [ablation], the identity keys that vary, seed.
std::string label(const RunRecord& r, const std::set<std::string>& varying) {
  std::string s = r.method;
  if (!r.ablation.empty()) s += " [" + r.ablation + "]";
  for (const auto& k : varying) {
    if (k == "method.name" || k == "ablation" || k == "runtime.seed") continue;
    std::string name = k.substr(k.rfind('.') + 1);
    s += " " + name + "=" + show(get(r.config, k));
  }
  return s + fmt::format(" seed={}", r.seed);
}

void print_value_diff(const std::string& what, const std::set<std::string>& a,
                      const std::set<std::string>& b, std::ostream& out) {
  auto joined = [](const std::set<std::string>& s) {
    std::string t;
    for (const auto& v : s) t += (t.empty() ? "" : ", ") + show(v);
    return t.empty() ? std::string("(absent)") : t;
  };
  if (a == b) out << fmt::format("  {:<22} {} (both)\n", what, joined(a));
  else out << fmt::format("  {:<22} {}  ->  {}\n", what, joined(a), joined(b));
}

struct Pair {
  const RunRecord* a;
  const RunRecord* b;
};

// Top-1 correctness per row of a single-label prediction file ("" = ok, else why not).
std::string top1_correct(const StoredPredictions& p, std::vector<bool>* correct) {
  if (!p.label.defined()) return "no single-label targets (task " + p.task + ")";
  at::Tensor top1;
  if (p.mode == "full" && p.scores.defined()) top1 = p.scores.argmax(1);
  else if (p.topk_ids.defined() && p.topk_ids.size(1) > 0) top1 = p.topk_ids.select(1, 0);
  else return "no scores stored";
  at::Tensor ok = top1.eq(p.label).contiguous();
  const bool* d = ok.data_ptr<bool>();
  correct->assign(d, d + ok.numel());
  return "";
}

std::string paired_test(const Pair& pr) {
  std::string fa = pr.a->dir + "/predictions.h5", fb = pr.b->dir + "/predictions.h5";
  if (!fs::exists(fa) || !fs::exists(fb)) return "";
  StoredPredictions a = read_predictions(fa), b = read_predictions(fb);
  if (!a.rows.defined() || !b.rows.defined() || a.rows.numel() != b.rows.numel() ||
      !a.rows.equal(b.rows))
    return "paired test: not the same evaluation rows on both sides";
  std::vector<bool> ca, cb;
  std::string why = top1_correct(a, &ca);
  if (why.empty()) why = top1_correct(b, &cb);
  if (!why.empty()) return "paired test: " + why;
  if (!a.label.equal(b.label)) return "paired test: the targets differ between the sides";
  McNemarResult m = mcnemar_exact(ca, cb);
  return fmt::format("McNemar (top-1, {} rows): right in A only {}, in B only {}, p = {:.4g}", m.n,
                     m.only_a, m.only_b, m.p_value);
}

void print_versions(const std::vector<Pair>& pairs, std::ostream& out) {
  std::set<std::string> ma, mb;
  std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> metric;
  int with = 0;
  for (const auto& p : pairs) {
    std::string fa = p.a->dir + "/predictions.h5", fb = p.b->dir + "/predictions.h5";
    if (!fs::exists(fa) || !fs::exists(fb)) continue;
    StoredPredictions a = read_predictions(fa), b = read_predictions(fb);
    ++with;
    ma.insert(a.method + " v" + a.method_version);
    mb.insert(b.method + " v" + b.method_version);
    for (const auto& [m, v] : a.metric_versions) metric[m].first.insert(v);
    for (const auto& [m, v] : b.metric_versions) metric[m].second.insert(v);
  }
  if (with == 0) {
    out << "  method/metric versions: not recorded (no predictions.h5 on both sides)\n";
    return;
  }
  print_value_diff("method versions", ma, mb, out);
  for (const auto& [m, v] : metric) print_value_diff("metric " + m, v.first, v.second, out);
}

int run_diff(const std::string& pa, const std::string& pb, std::ostream& out) {
  Side A = load_side(pa), B = load_side(pb);
  if (A.single != B.single)
    throw DataError(A.single ? pb : pa, "",
                    "is an experiment tree but the other side is one run directory: give two run "
                    "directories or two results/<experiment> trees");
  // Match: identical identity (two lone run directories are compared whatever they are).
  std::vector<Pair> pairs;
  std::vector<const RunRecord*> only_a, only_b;
  if (A.single) {
    pairs.push_back({&A.runs[0], &B.runs[0]});
  } else {
    std::multimap<std::string, const RunRecord*> in_b;
    for (const auto& r : B.runs) in_b.emplace(identity(r), &r);
    for (const auto& r : A.runs) {
      auto it = in_b.find(identity(r));
      if (it == in_b.end()) {
        only_a.push_back(&r);
        continue;
      }
      pairs.push_back({&r, it->second});
      in_b.erase(it);
    }
    for (const auto& [id, r] : in_b) only_b.push_back(r);
    if (pairs.empty()) {
      std::set<std::string> ma, mb;
      for (const auto& r : A.runs) ma.insert(r.method + " on " + get(r.env, "dataset.name"));
      for (const auto& r : B.runs) mb.insert(r.method + " on " + get(r.env, "dataset.name"));
      throw DataError(fmt::format(
          "{} and {}: no run matches (runs are matched on method name and params, dataset name "
          "and fingerprint, splits, shots, ablation and seed): A has {}; B has {}",
          pa, pb, fmt::join(ma, ", "), fmt::join(mb, ", ")));
    }
  }
  out << fmt::format("A: {} ({} run{})\nB: {} ({} run{})\n", pa, A.runs.size(),
                     A.runs.size() == 1 ? "" : "s", pb, B.runs.size(), B.runs.size() == 1 ? "" : "s");
  for (const Side* s : {&A, &B})
    if (s->not_current)
      out << fmt::format("  {}: {} run directories not in its current plan left out\n", s->path,
                         s->not_current);
  if (!A.single)
    out << fmt::format("matched {} runs; {} only in A, {} only in B\n", pairs.size(), only_a.size(),
                       only_b.size());

  // Resolved config keys that differ within matched pairs (or between the two runs).
  std::map<std::string, std::set<std::pair<std::string, std::string>>> config_diff;
  for (const auto& p : pairs) {
    std::set<std::string> keys;
    for (const auto* r : {p.a, p.b})
      for (const auto& [k, v] : r->config) keys.insert(k);
    for (const auto& k : keys) {
      if (k == "experiment" && !A.single) continue;
      std::string va = get(p.a->config, k), vb = get(p.b->config, k);
      if (va != vb) config_diff[k].insert({va, vb});
    }
  }
  out << "config (config.resolved.yaml):\n";
  if (config_diff.empty()) out << "  no resolved config key differs\n";
  for (const auto& [k, values] : config_diff) {
    std::string t;
    int shown = 0;
    for (const auto& [va, vb] : values)
      if (shown++ < 3) t += (t.empty() ? "" : "; ") + show(va) + " -> " + show(vb);
    if (values.size() > 3) t += fmt::format("; ... ({} value pairs)", values.size());
    out << fmt::format("  {}: {}\n", k, t);
  }

  auto env_values = [&](const std::vector<Pair>& ps, bool a_side, const std::string& key) {
    std::set<std::string> v;
    for (const auto& p : ps) v.insert(get((a_side ? p.a : p.b)->env, key));
    return v;
  };
  out << "run key inputs:\n";
  print_value_diff("dataset fingerprint", env_values(pairs, true, "dataset.fingerprint"),
                   env_values(pairs, false, "dataset.fingerprint"), out);
  print_versions(pairs, out);
  int same_key = 0;
  for (const auto& p : pairs) same_key += p.a->run_key == p.b->run_key;
  out << fmt::format("  {:<22} {} of {} matched runs have the same run key\n", "run keys", same_key,
                     pairs.size());
  out << "environment (env.json):\n";
  for (const char* k : {"git_sha", "git_dirty", "threads", "vlb_version", "torch_version",
                        "hdf5_version", "compiler", "cpu_model", "hostname"})
    print_value_diff(k, env_values(pairs, true, k), env_values(pairs, false, k), out);

  // Metric deltas per matched run.
  std::set<std::string> varying;
  {
    std::map<std::string, std::set<std::string>> values;
    for (const Side* s : {&A, &B})
      for (const auto& r : s->runs)
        for (const auto& [k, v] : r.config)
          if (is_identity_key(k)) values[k].insert(v);
    for (const auto& [k, v] : values)
      if (v.size() > 1) varying.insert(k);
  }
  out << "metrics (B - A):\n";
  for (const auto& p : pairs) {
    out << fmt::format("  {}  [{} vs {}]\n", label(*p.a, varying), p.a->run_key.substr(0, 16),
                       p.b->run_key.substr(0, 16));
    if (p.a->status != "ok" || p.b->status != "ok") {
      out << fmt::format("    A {}, B {}: no metrics to compare\n", p.a->status, p.b->status);
      continue;
    }
    for (const auto& [m, va] : p.a->metrics) {
      auto it = p.b->metrics.find(m);
      if (it == p.b->metrics.end()) {
        out << fmt::format("    {:<18} {:>12.6g}  (absent in B)\n", m, va);
        continue;
      }
      out << fmt::format("    {:<18} {:>12.6g} -> {:<12.6g} delta {:+.6g}\n", m, va, it->second,
                         it->second - va);
    }
    for (const auto& [m, vb] : p.b->metrics)
      if (!p.a->metrics.count(m)) out << fmt::format("    {:<18} (absent in A) -> {:.6g}\n", m, vb);
    std::string paired = paired_test(p);
    if (!paired.empty()) out << "    " << paired << "\n";
  }
  for (const auto* r : only_a) out << fmt::format("  only in A: {} ({})\n", label(*r, varying), r->dir);
  for (const auto* r : only_b) out << fmt::format("  only in B: {} ({})\n", label(*r, varying), r->dir);
  return kExitOk;
}

}  // namespace

Command add_diff_command(CLI::App& app) {
  auto a = std::make_shared<std::string>(), b = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "diff", "Compare two run directories or two experiments' results: config, versions, "
              "environment, metric deltas (with a paired test on predictions.h5)");
  sub->add_option("a", *a, "run directory or results/<experiment> (A, the reference)")->required();
  sub->add_option("b", *b, "run directory or results/<experiment> (B)")->required();
  sub->footer("Example: vlb diff results-old/quickstart results/quickstart");
  return {sub, [a, b] { return run_diff(*a, *b, std::cout); }};
}

}  // namespace vlb::cli
