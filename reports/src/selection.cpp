// Model selection as a transform of the loaded runs (selection.h, experiments/SPEC.md "Model
// selection"), and the lines that report it.
#include "vlb/reports/selection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "format.h"
#include "selection_detail.h"
#include "vlb/core/error.h"

namespace vlb {
namespace selection_detail {

void read_selection_json(const nlohmann::json& block, const std::string& file, RunRecord& r) {
  if (!block.is_object()) throw DataError(file, "selection", "expected an object");
  auto it = block.find("split");
  if (it == block.end() || !it->is_string() || it->get<std::string>().empty())
    throw DataError(file, "selection.split", "missing or not a split name");
  r.selection_split = it->get<std::string>();
  if (auto k = block.find("val_shots"); k != block.end()) {
    if (!k->is_number_integer() || k->get<int64_t>() < 1)
      throw DataError(file, "selection.val_shots", "expected a positive integer, got " + k->dump());
    r.selection_val_shots = k->get<int64_t>();
  }
  if (auto n = block.find("rows"); n != block.end() && n->is_number_integer())
    r.selection_rows = n->get<int64_t>();
  auto metrics = block.find("metrics");
  auto hib = block.find("higher_is_better");
  if (metrics == block.end() || !metrics->is_object())
    throw DataError(file, "selection.metrics", "missing or not an object");
  if (hib == block.end() || !hib->is_object())
    throw DataError(file, "selection.higher_is_better", "missing or not an object");
  for (const auto& [name, v] : metrics->items()) {
    if (!v.is_number())
      throw DataError(file, "selection.metrics." + name, "expected a number, got " + v.dump());
    auto d = hib->find(name);
    if (d == hib->end() || !d->is_boolean())
      throw DataError(file, "selection.higher_is_better." + name, "missing or not a boolean");
    r.selection_metrics[name] = v.get<double>();
    r.selection_higher_is_better[name] = d->get<bool>();
  }
}

}  // namespace selection_detail

namespace {

std::string get(const RunRecord& r, const std::string& key) {
  auto it = r.config.find(key);
  return it == r.config.end() ? std::string() : it->second;
}

// config.resolved.yaml's `over: [l2, alpha]`, flattened to "[l2, alpha]" by load_runs.
std::vector<std::string> over_keys(const RunRecord& r) {
  std::string text = get(r, "select.over");
  if (!text.empty() && text.front() == '[') text = text.substr(1);
  if (!text.empty() && text.back() == ']') text.pop_back();
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back("method.params." + part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string short_name(const std::string& key) { return key.substr(key.rfind('.') + 1); }

// "val", "val_shots=4 from train", "val_shots=shots from train": where a spec selects.
std::string where_of_config(const RunRecord& r) {
  if (r.config.count("select.split")) return get(r, "select.split");
  return "val_shots=" + get(r, "select.val_shots") + " from " + get(r, "dataset.train_split");
}

// Where one run was selected, with the K its val_shots resolved to.
std::string where_of_run(const RunRecord& r) {
  if (r.selection_val_shots > 0)
    return fmt::format("{}-shot validation from {}", r.selection_val_shots, r.selection_split);
  return r.selection_split;
}

double selection_value(const RunRecord& r, const std::string& metric, bool* higher) {
  const std::string file = r.dir + "/metrics.json";
  if (r.selection_split.empty())
    throw DataError(file, "selection", "missing: config.resolved.yaml selects on " + metric +
                                           " but the run recorded no selection metrics");
  auto it = r.selection_metrics.find(metric);
  if (it == r.selection_metrics.end())
    throw DataError(file, "selection.metrics." + metric,
                    "missing: the run's spec selects on it (select.metric)");
  auto d = r.selection_higher_is_better.find(metric);
  *higher = d == r.selection_higher_is_better.end() || d->second;
  return it->second;
}

Cell aggregate(const std::vector<double>& v) {
  Cell c;
  c.n = static_cast<int>(v.size());
  for (double x : v) c.mean += x;
  c.mean /= c.n;
  if (c.n > 1) {
    double ss = 0;
    for (double x : v) ss += (x - c.mean) * (x - c.mean);
    c.std = std::sqrt(ss / (c.n - 1));
  }
  return c;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string join(const std::set<std::string>& v, const char* sep) {
  return join(std::vector<std::string>(v.begin(), v.end()), sep);
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

}  // namespace

// Note [Selection groups]: candidates are the runs that differ only in the params selected over:
// every other setting (dataset, shots, other params, ablation, the select protocol itself) and the
// seed are equal, and so is being stale. Per seed, because a user with one draw of the shots
// selects on that draw's validation rows; the cell then aggregates the selected run of each seed.
std::vector<RunRecord> apply_selection(const std::vector<RunRecord>& runs, SelectionInfo* info) {
  std::map<std::string, std::vector<size_t>> groups;
  std::vector<std::string> group_order;
  std::vector<bool> keep(runs.size(), true);
  std::map<std::string, std::vector<std::string>> over_of_method;  // for the protocol text
  std::set<std::string> wheres, metrics;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunRecord& r = runs[i];
    if (r.selection_applied || !r.config.count("select.metric")) continue;
    const std::vector<std::string> over = over_keys(r);
    metrics.insert(get(r, "select.metric"));
    wheres.insert(where_of_config(r));
    auto& listed = over_of_method[r.method];
    for (const auto& k : over)
      if (std::find(listed.begin(), listed.end(), short_name(k)) == listed.end())
        listed.push_back(short_name(k));
    if (r.status != "ok") continue;  // failed runs stay: they are reported as failures
    std::string key = r.stale ? "stale\n" : "current\n";
    key += r.dataset_fingerprint + "\n";
    for (const auto& [k, v] : r.config) {
      if (k.rfind("runtime.predictions", 0) == 0) continue;  // changes no number
      if (std::find(over.begin(), over.end(), k) != over.end()) continue;
      key += k + "=" + v + "\n";
    }
    if (!groups.count(key)) group_order.push_back(key);
    groups[key].push_back(i);
    keep[i] = false;
  }

  std::map<size_t, std::vector<std::string>> chosen_over;
  int candidates = 0;
  for (const auto& key : group_order) {
    const auto& members = groups[key];
    candidates += static_cast<int>(members.size());
    size_t best = members.front();
    bool higher = true;
    const std::string metric = get(runs[best], "select.metric");
    double best_value = selection_value(runs[best], metric, &higher);
    for (size_t m = 1; m < members.size(); ++m) {
      const RunRecord& r = runs[members[m]];
      bool h = true;
      const double v = selection_value(r, metric, &h);
      const bool better = h ? v > best_value : v < best_value;
      const bool tie_earlier = v == best_value && r.plan_index < runs[best].plan_index;
      if (better || tie_earlier) {
        best = members[m];
        best_value = v;
      }
    }
    keep[best] = true;
    chosen_over[best] = over_keys(runs[best]);
  }

  std::vector<RunRecord> out;
  int kept = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!keep[i]) continue;
    RunRecord r = runs[i];
    if (auto it = chosen_over.find(i); it != chosen_over.end()) {
      ++kept;
      for (const auto& k : it->second) {
        auto c = r.config.find(k);
        if (c == r.config.end()) continue;
        r.selected[k] = c->second;
        r.config.erase(c);
      }
      r.selection_applied = true;
    }
    out.push_back(std::move(r));
  }

  if (info && !metrics.empty()) {
    std::vector<std::string> overs;
    std::set<std::string> distinct;
    for (const auto& [m, o] : over_of_method)
      if (!o.empty()) distinct.insert(join(o, ", "));
    for (const auto& [m, o] : over_of_method)
      if (!o.empty()) overs.push_back(distinct.size() > 1 ? join(o, ", ") + " (" + m + ")" : join(o, ", "));
    if (distinct.size() == 1) overs = {*distinct.begin()};
    info->metric = *metrics.begin();
    info->protocol = join(metrics, " / ") + " on " + join(wheres, " / ") + " over " +
                     (overs.empty() ? std::string("nothing") : join(overs, "; "));
    info->candidates = candidates;
    info->dropped = candidates - kept;
  }
  return out;
}

void finish_selection(Leaderboard& lb, SelectionInfo info) {
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> values;
  std::map<std::string, std::set<std::string>> wheres, splits;
  std::map<std::string, std::map<std::string, std::set<std::string>>> cell_wheres;
  std::set<std::string> eval_splits;
  for (auto& run : lb.runs) {
    RunRecord& r = run.record;
    if (!r.selection_applied) continue;
    eval_splits.insert(get(r, "dataset.eval_split"));
    for (const auto& [m, v] : r.selection_metrics) values[m][run.row][run.column].push_back(v);
    if (r.selected.empty()) continue;
    auto& chosen = info.chosen[run.row][run.column][r.seed];
    for (const auto& [k, v] : r.selected) {
      chosen[short_name(k)] = v;
      r.config[k] = v;  // the tidy export lists every setting the run had
    }
    wheres[run.row].insert(where_of_run(r));
    splits[run.row].insert(r.selection_split);
    cell_wheres[run.row][run.column].insert(where_of_run(r));
  }
  for (const auto& [row, w] : wheres)
    info.row_where[row] = w.size() == 1 ? *w.begin()
                                        : "K-shot validation from " + join(splits[row], " / ") +
                                              " (K = dataset.shots)";
  for (const auto& [row, by_col] : cell_wheres)
    for (const auto& [col, w] : by_col) info.cell_where[row][col] = join(w, " / ");
  for (const auto& [m, by_row] : values)
    for (const auto& [row, by_col] : by_row)
      for (const auto& [col, v] : by_col) info.selection_cells[m][row][col] = aggregate(v);
  info.eval_split = join(eval_splits, " / ");
  if (info.protocol.empty())
    info.every_configuration = std::any_of(lb.row_keys.begin(), lb.row_keys.end(), [](const std::string& k) {
      return k.rfind("method.params.", 0) == 0;
    });
  lb.selection = std::move(info);
}

std::string chosen_text(const Leaderboard& lb, const std::string& row, const std::string& column) {
  auto r = lb.selection.chosen.find(row);
  if (r == lb.selection.chosen.end()) return "";
  auto c = r->second.find(column);
  if (c == r->second.end()) return "";
  // Each distinct combination with its seed count, the most frequent first (ties: first seed).
  std::vector<std::pair<std::string, int>> combos;
  for (const auto& [seed, values] : c->second) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : values) parts.push_back(k + " = " + v);
    std::string text = join(parts, ", ");
    auto it = std::find_if(combos.begin(), combos.end(), [&](const auto& p) { return p.first == text; });
    if (it == combos.end())
      combos.emplace_back(text, 1);
    else
      ++it->second;
  }
  std::stable_sort(combos.begin(), combos.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const bool one_key = !c->second.empty() && c->second.begin()->second.size() == 1;
  std::string out;
  for (size_t i = 0; i < combos.size(); ++i) {
    std::string text = combos[i].first;
    // "l2 = 1e-4 (2 seeds), 1e-3 (1)": with one param its name is said once.
    if (one_key && i > 0) text = text.substr(text.find(" = ") + 3);
    const int n = combos[i].second;
    out += (i ? (one_key ? ", " : "; ") : "") + text +
           (i == 0 ? fmt::format(" ({} seed{})", n, n == 1 ? "" : "s") : fmt::format(" ({})", n));
  }
  return out;
}

std::string selection_protocol_line(const Leaderboard& lb) {
  const SelectionInfo& s = lb.selection;
  if (s.protocol.empty())
    return s.every_configuration ? "Model selection: none — every configuration reported.\n" : "";
  return fmt::format("Model selection: {}, per seed: each selected row reports, on {}, the "
                     "configuration with the best {} on its selection rows ({} of {} runs kept).\n",
                     s.protocol, s.eval_split.empty() ? std::string("the evaluation split") : s.eval_split,
                     s.metric, s.candidates - s.dropped, s.candidates);
}

namespace {

std::string html_escape(const std::string& t) {
  std::string out;
  for (char ch : t) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// The per-cell selection table both renderers print: a header and one line per selected cell,
// text already escaped for (and cells formatted for) Markdown or HTML.
struct SelectionTable {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> lines;
};

SelectionTable selection_table(const Leaderboard& lb, bool html) {
  const SelectionInfo& s = lb.selection;
  auto esc = html ? html_escape : md_escape;
  std::vector<std::string> metrics;
  if (s.selection_cells.count(s.metric)) metrics.push_back(s.metric);
  for (const auto& [m, cells] : s.selection_cells)
    if (m != s.metric) metrics.push_back(m);
  // Fractions in percent, like the main tables (report_format::as_percent).
  std::map<std::string, bool> percent;
  for (const auto& m : metrics) {
    bool p = true;
    for (const auto& [row, by_col] : s.selection_cells.at(m))
      for (const auto& [col, c] : by_col) p = p && c.mean >= 0.0 && c.mean <= 1.0;
    percent[m] = p;
  }
  SelectionTable t;
  t.head = {"row", "column", "selected on", "chosen"};
  for (const auto& m : metrics) t.head.push_back(esc(m) + (percent[m] ? " (%)" : "") + " on selection rows");
  for (const auto& row : lb.rows) {
    if (!s.row_where.count(row)) continue;
    for (const auto& col : lb.columns) {
      const std::string chosen = chosen_text(lb, row, col);
      if (chosen.empty()) continue;
      std::vector<std::string> line = {esc(row), esc(report_format::column_title(col)),
                                       esc(s.cell_where.at(row).at(col)), esc(chosen)};
      for (const auto& m : metrics) {
        const Cell* c = nullptr;
        if (auto a = s.selection_cells.find(m); a != s.selection_cells.end())
          if (auto b = a->second.find(row); b != a->second.end())
            if (auto d = b->second.find(col); d != b->second.end()) c = &d->second;
        line.push_back(c ? report_format::fmt_cell(*c, percent[m], html) : std::string("—"));
      }
      t.lines.push_back(std::move(line));
    }
  }
  return t;
}

}  // namespace

std::string selection_summary(const Leaderboard& lb) {
  std::string out = selection_protocol_line(lb);
  if (out.empty() || lb.selection.row_where.empty()) return out.empty() ? out : out + "\n";
  const SelectionTable t = selection_table(lb, /*html=*/false);
  out += "\n|";
  for (const auto& h : t.head) out += " " + h + " |";
  out += "\n|";
  for (size_t i = 0; i < t.head.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& line : t.lines) {
    out += "|";
    for (const auto& cell : line) out += " " + cell + " |";
    out += "\n";
  }
  return out + "\n";
}

std::string selection_html(const Leaderboard& lb) {
  std::string line = selection_protocol_line(lb);
  if (line.empty()) return "";
  if (line.back() == '\n') line.pop_back();
  std::string out = "<p class=\"note selection\">" + html_escape(line) + "</p>\n";
  if (lb.selection.row_where.empty()) return out;
  const SelectionTable t = selection_table(lb, /*html=*/true);
  out += "<table class=\"selection\"><thead><tr>";
  for (const auto& h : t.head) out += "<th>" + h + "</th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& l : t.lines) {
    out += "<tr>";
    for (const auto& cell : l) out += "<td>" + cell + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

}  // namespace vlb
