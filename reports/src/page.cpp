// The HTML report page, from the Leaderboard model (cells formatted by format.h, so the main table
// shows exactly the Markdown report's text).
#include "vlb/reports/page.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "format.h"
#include "vlb/core/clock.h"
#include "vlb/core/error.h"
#include "vlb/reports/plots.h"
#include "vlb/reports/selection.h"
#include "vlb/reports/stats.h"
#include "vlb/reports/svg.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using namespace report_format;
using svg::xml_escape;

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

std::string html_id(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

/// Header text that may wrap after path separators.
std::string header_html(const std::string& label) {
  std::string s = xml_escape(label), out;
  for (char c : s) {
    out += c;
    if (c == '/') out += "<wbr>";
  }
  return out;
}

std::string link_to(const std::string& dir, const std::string& page_dir) {
  if (page_dir.empty()) return dir;
  std::error_code ec;
  fs::path rel = fs::weakly_canonical(fs::absolute(dir), ec)
                     .lexically_relative(fs::weakly_canonical(fs::absolute(page_dir), ec));
  return rel.empty() ? dir : rel.generic_string();
}

const PaperValue* paper_for(const std::vector<PaperValue>& paper, const Leaderboard& lb,
                            const std::string& row, const std::string& col) {
  for (const auto& p : paper) {
    if (!p.experiment.empty() && p.experiment != lb.experiment) continue;
    std::string metric = p.metric.empty() ? lb.primary_metric : p.metric;
    if (metric == lb.primary_metric && p.row == row && p.column == col) return &p;
  }
  return nullptr;
}

const char* kCss = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:16px 24px;color:#1a1a1a;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{margin-top:1.6em;border-bottom:2px solid #ddd;padding-bottom:4px}h3{margin-top:1.2em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f2f4f7}table.sortable thead th{cursor:pointer}
td.best .v{font-weight:bold}.d,.p{font-size:12px;color:#555}.base{font-size:11px;color:#0072B2;border:1px solid #0072B2;border-radius:3px;padding:0 3px;margin-left:4px}
.sig{font-weight:bold;margin-left:4px}.sig.better{color:#009E73}.sig.worse{color:#D55E00}.sig.noise{color:#777}
code,pre{background:#f6f8fa;border-radius:4px}pre{padding:8px;overflow-x:auto;white-space:pre-wrap}
dl.env{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:14px}dl.env dt{font-weight:600}dl.env dd{margin:0}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #e3e3e3;max-width:100%;height:auto}
.note{font-size:13px;color:#444}.failed{color:#D55E00}
)";

// Click a header to sort by that column (numbers by data-sort, text otherwise); without scripting
// the table keeps the leaderboard order.
const char* kScript = R"(
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('thead th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.dir!=='asc';
      rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];
        var p=parseFloat(a.dataset.sort),q=parseFloat(c.dataset.sort);
        var r=(isNaN(p)||isNaN(q))?a.textContent.localeCompare(c.textContent):p-q;return asc?r:-r;});
      rows.forEach(function(r){b.appendChild(r);});
      th.dataset.dir=asc?'asc':'desc';});});});
document.documentElement.dataset.ready='1';
)";

std::string env_section(const Leaderboard& lb) {
  const EnvSummary& e = lb.env;
  std::string s = "<dl class=\"env\">\n";
  auto item = [&](const std::string& k, const std::string& v) {
    s += "<dt>" + xml_escape(k) + "</dt><dd>" + v + "</dd>\n";
  };
  std::string seeds;
  for (auto sd : lb.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(sd);
  item("runs", fmt::format("{} ok", lb.ok_runs) +
                   (lb.failed_runs ? fmt::format(", <span class=\"failed\">{} failed</span>", lb.failed_runs) : "") +
                   " · seeds " + xml_escape(seeds));
  std::string shas;
  for (const auto& g : e.git_shas) shas += (shas.empty() ? "" : ", ") + ("<code>" + xml_escape(g.substr(0, 12)) + "</code>");
  item("git", (shas.empty() ? "unknown" : shas) + (e.any_dirty ? " <b>(dirty: uncommitted changes)</b>" : " (clean)"));
  std::string vers;
  for (const auto& [k, v] : e.versions) vers += (vers.empty() ? "" : " · ") + xml_escape(k + " " + v);
  item("versions", vers.empty() ? "unknown" : vers);
  std::string th;
  for (const auto& t : e.threads) th += (th.empty() ? "" : ", ") + t;
  std::string cpu;
  for (const auto& c : e.cpu_models) cpu += (cpu.empty() ? "" : ", ") + c;
  item("threads", xml_escape(th.empty() ? "unknown" : th) + (cpu.empty() ? "" : " · CPU " + xml_escape(cpu)));
  std::string ds;
  for (const auto& [name, fp] : e.datasets)
    ds += (ds.empty() ? "" : "<br>") + xml_escape(name) + " <code title=\"" + xml_escape(fp) + "\">" +
          xml_escape(fp.substr(0, 16)) + "…</code>";
  item("datasets", ds.empty() ? "unknown" : ds);
  if (!e.first_started.empty())
    item("ran", xml_escape(e.first_started + (e.last_started != e.first_started ? " … " + e.last_started : "")) +
                    fmt::format(" · total wall {:.1f} s", e.total_wall_seconds));
  return s + "</dl>\n";
}

/// The legend of the per-sample statistics under a table, and why cells have none.
std::string stats_note_html(const Leaderboard& lb, const std::string& metric) {
  std::string legend = stats_legend(lb);
  if (legend.empty())
    return "<p class=\"note stats\">No per-sample intervals or tests (`vlb report --resamples 0`): no "
           "▲/▼ marks.</p>\n";
  return "<p class=\"note stats\">" + xml_escape(legend + " (hover a mark for the test)." +
                                               stats_remarks(lb, metric)) + "</p>\n";
}

std::string main_table(const Leaderboard& lb, const std::string& base, const HtmlPageOptions& opt) {
  const std::string& pm = lb.primary_metric;
  bool pct = as_percent(lb, pm);
  double sc = scale_of(lb, pm);
  std::string s = fmt::format("<table class=\"main sortable\" id=\"main-{}\" data-metric=\"{}\">\n<thead><tr><th>method</th>",
                              html_id(lb.experiment), xml_escape(pm));
  for (const auto& col : lb.columns) s += "<th>" + header_html(column_title(col)) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : lb.rows) {
    s += "<tr><th scope=\"row\" data-sort=\"\">" + xml_escape(row) +
         (row == base ? "<span class=\"base\">baseline</span>" : "") + "</th>";
    for (const auto& col : lb.columns) {
      const Cell* c = find_cell(lb, pm, row, col);
      if (!c) {
        s += "<td><span class=\"v\">—</span></td>";
        continue;
      }
      double best = 0.0;
      bool is_best = best_in_column(lb, pm, col, best) && c->mean == best;
      s += fmt::format("<td{} data-sort=\"{}\"><span class=\"v\">{}</span>", is_best ? " class=\"best\"" : "",
                       c->mean, xml_escape(fmt_cell_ci(lb, pm, row, col, *c, pct, true)));
      const Cell* b = find_cell(lb, pm, base, col);
      if (b && row != base) {
        // Marks come from the per-sample test only; the seed-level summary stays in the Δ tooltip.
        const CellComparison* cc = find_comparison(lb, pm, row, col);
        PairedComparison pc = compare_paired(lb, pm, row, base, col, opt.confidence);
        std::string tip = (cc ? comparison_tooltip(lb, *cc, pct) : std::string("no per-sample test")) +
                          "; over seeds: " + pc.tooltip;
        if (cc && !cc->mark.empty()) {
          std::string cls = cc->mark == "▲" ? "better" : cc->mark == "▼" ? "worse" : "noise";
          s += fmt::format("<span class=\"sig {}\" title=\"{}\">{}</span>", cls,
                           xml_escape(comparison_tooltip(lb, *cc, pct)), cc->mark);
        }
        s += fmt::format("<br><span class=\"d\" title=\"{}\">Δ {:+.2f}{}</span>", xml_escape(tip),
                         sc * (c->mean - b->mean), cc && cc->mark == "≈" ? " · within noise" : "");
        if (cc && cc->test.empty() && !cc->note.empty())
          s += "<br><span class=\"p\">" + xml_escape(cc->note) + "</span>";
      }
      if (const PaperValue* p = paper_for(opt.paper, lb, row, col)) {
        s += fmt::format("<br><span class=\"p\" title=\"{}\">paper {:.2f} (Δ {:+.2f})</span>",
                         xml_escape(p->source), sc * p->value, sc * (c->mean - p->value));
      }
      s += "</td>";
    }
    s += "</tr>\n";
  }
  s += "</tbody></table>\n";
  s += fmt::format("<p class=\"note\">Cells: mean ± sample std over seeds{}{} (n = seeds); best per column "
                   "in bold. Δ: against the baseline row <b>{}</b>{}. Click a header to sort.</p>\n",
                   pct ? ", in percent" : "", lb.sample_stats.resamples > 0 ? ", then the bootstrap interval" : "",
                   xml_escape(base), pct ? " in percentage points" : "");
  s += stats_note_html(lb, pm);
  return s;
}

std::string detail_tables(const Leaderboard& lb, const HtmlPageOptions& opt) {
  std::vector<std::string> metrics = metric_order(lb);
  std::vector<std::string> keys;  // varying row keys other than the method name (already the label)
  for (const auto& k : lb.row_keys)
    if (k != "method.name") keys.push_back(k);
  std::string s;
  for (const auto& col : lb.columns) {
    s += "<h3>Details: " + xml_escape(column_title(col)) + "</h3>\n";
    s += "<table class=\"detail sortable\"><thead><tr><th>method</th>";
    for (const auto& k : keys) s += "<th>" + xml_escape(k) + "</th>";
    for (const auto& m : metrics) s += "<th>" + xml_escape(metric_title(lb, m)) + "</th>";
    s += "<th>wall (s)</th><th>runs (seed: dir · config)</th></tr></thead>\n<tbody>\n";
    for (const auto& row : lb.rows) {
      auto dirs_row = lb.run_dirs.find(row);
      if (dirs_row == lb.run_dirs.end() || !dirs_row->second.count(col)) continue;
      s += "<tr><th scope=\"row\">" + xml_escape(row) + "</th>";
      for (const auto& k : keys) {
        auto rc = lb.row_config.find(row);
        std::string v = rc != lb.row_config.end() && rc->second.count(k) ? rc->second.at(k) : "";
        double num = 0;
        s += "<td" + (parse_number(v, num) ? fmt::format(" data-sort=\"{}\"", num) : std::string()) + ">" +
             xml_escape(v) + "</td>";
      }
      for (const auto& m : metrics) {
        const Cell* c = find_cell(lb, m, row, col);
        double best = 0.0;
        bool is_best = c && best_in_column(lb, m, col, best) && c->mean == best;
        s += c ? fmt::format("<td{} data-sort=\"{}\"><span class=\"v\">{}</span></td>",
                             is_best ? " class=\"best\"" : "", c->mean,
                             xml_escape(fmt_cell_ci(lb, m, row, col, *c, as_percent(lb, m), false)))
               : std::string("<td>—</td>");
      }
      auto w = lb.wall_seconds.find(row);
      if (w != lb.wall_seconds.end() && w->second.count(col)) {
        const Cell& c = w->second.at(col);
        s += fmt::format("<td data-sort=\"{}\">{:.3g} ± {:.2g}</td>", c.mean, c.mean, c.std);
      } else {
        s += "<td>—</td>";
      }
      s += "<td>";
      const auto& dirs = dirs_row->second.at(col);
      // Seeds in the same order as the directories (run_dirs keeps run order; seed_values is by seed).
      for (size_t i = 0; i < dirs.size(); ++i) {
        std::string rel = link_to(dirs[i], opt.page_dir);
        std::string name = fs::path(dirs[i]).filename().string();
        s += fmt::format("{}<a href=\"{}/\">{}</a> · <a href=\"{}/config.resolved.yaml\">cfg</a>",
                         i ? "<br>" : "", xml_escape(rel), xml_escape(name.substr(0, 8)), xml_escape(rel));
      }
      s += "</td></tr>\n";
    }
    s += "</tbody></table>\n";
    if (lb.sample_stats.resamples > 0) s += stats_note_html(lb, "");
  }
  return s;
}

std::string experiment_section(const Leaderboard& lb, const HtmlPageOptions& opt) {
  std::string s = "<section class=\"experiment\" id=\"exp-" + html_id(lb.experiment) + "\">\n";
  s += "<h2>" + xml_escape(lb.experiment) + "</h2>\n";
  s += env_section(lb);
  s += selection_html(lb);
  if (lb.primary_metric.empty()) {
    s += "<p class=\"failed\">No successful runs.</p>\n";
  } else {
    std::string base = resolve_baseline_row(lb, opt.baseline_row);
    s += fmt::format("<h3>{} <span class=\"note\">({})</span></h3>\n", xml_escape(metric_title(lb, lb.primary_metric)),
                     higher_better(lb, lb.primary_metric) ? "↑ higher is better" : "↓ lower is better");
    s += main_table(lb, base, opt);
    s += "<h3>Plots</h3>\n<div class=\"plots\">\n" + bar_plot(lb);
    for (const auto& p : sweep_plots(lb)) s += p;
    s += "</div>\n";
    auto cost = cost_plots(lb);
    if (!cost.empty()) {
      s += "<h3>Cost: accuracy vs wall time</h3>\n<div class=\"plots\">\n";
      for (const auto& p : cost) s += p;
      s += "</div>\n<p class=\"note\">Dashed: the Pareto front (no other method is both faster and "
           "better). Wall time per run includes fitting and prediction.</p>\n";
    }
    s += detail_tables(lb, opt);
  }
  if (!lb.failures.empty()) {
    s += "<h3 class=\"failed\">Failed runs</h3>\n<ul>\n";
    for (const auto& f : lb.failures) s += "<li>" + xml_escape(f) + "</li>\n";
    s += "</ul>\n";
  }
  return s + "</section>\n";
}

}  // namespace

std::vector<PaperValue> load_paper_values(const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw DataError(file, "", "cannot read the paper-values file");
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string()
                                         : fmt::format("line {}, column {}", e.mark.line + 1, e.mark.column + 1);
    throw DataError(file, where, "malformed YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["values"] || !root["values"].IsSequence()) {
    throw DataError(file, "values", "expected a list `values: [{row, column, value, source}, ...]`");
  }
  std::vector<PaperValue> out;
  size_t i = 0;
  for (const auto& n : root["values"]) {
    std::string at = fmt::format("values[{}]", i++);
    if (!n.IsMap()) throw DataError(file, at, "expected a mapping");
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      if (k != "row" && k != "column" && k != "value" && k != "metric" && k != "source" && k != "experiment")
        throw DataError(file, at + "." + k, "unknown key (expected row, column, value, metric, source, experiment)");
    }
    PaperValue p;
    if (!n["row"] || !n["row"].IsScalar()) throw DataError(file, at + ".row", "missing");
    p.row = n["row"].Scalar();
    if (n["column"]) p.column = n["column"].Scalar();
    if (n["metric"]) p.metric = n["metric"].Scalar();
    if (n["source"]) p.source = n["source"].Scalar();
    if (n["experiment"]) p.experiment = n["experiment"].Scalar();
    if (!n["value"] || !n["value"].IsScalar() || !parse_number(n["value"].Scalar(), p.value)) {
      throw DataError(file, at + ".value", "missing or not a finite number");
    }
    out.push_back(p);
  }
  return out;
}

std::string resolve_baseline_row(const Leaderboard& lb, const std::string& wanted) {
  if (lb.rows.empty()) throw Error("experiment '" + lb.experiment + "' has no rows");
  if (wanted.empty()) return lb.rows.front();
  std::vector<std::string> hits;
  for (const auto& r : lb.rows) {
    if (r == wanted) return r;
    if (r.rfind(wanted, 0) == 0) hits.push_back(r);
  }
  if (hits.size() == 1) return hits.front();
  std::string rows;
  for (const auto& r : lb.rows) rows += (rows.empty() ? "'" : ", '") + r + "'";
  throw Error(fmt::format("--baseline-row '{}' {} in experiment '{}' (rows: {})", wanted,
                          hits.empty() ? "matches no row" : "matches several rows", lb.experiment, rows));
}

std::vector<std::string> numeric_sweep_axes(const Leaderboard& lb) {
  std::vector<std::string> out;
  auto check = [&](const std::string& key, const std::map<std::string, std::map<std::string, std::string>>& cfg) {
    std::set<double> distinct;
    bool any = false;
    for (const auto& [label, kv] : cfg) {
      auto it = kv.find(key);
      if (it == kv.end()) continue;
      double x = 0;
      // Row keys are absent for methods without that parameter: those rows are not on the axis.
      if (it->second == "<absent>" && &cfg == &lb.row_config) continue;
      if (!parse_number(it->second, x)) return;
      distinct.insert(x);
      any = true;
    }
    if (any && distinct.size() >= 2) out.push_back(key);
  };
  for (const auto& k : lb.column_keys) check(k, lb.column_config);
  for (const auto& k : lb.row_keys)
    if (k != "method.name" && k != "ablation") check(k, lb.row_config);
  return out;
}

std::string render_html_page(const std::vector<Leaderboard>& lbs, const HtmlPageOptions& opt) {
  std::string title = opt.title;
  if (lbs.size() == 1) title = lbs[0].experiment + " — " + opt.title;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>" + xml_escape(title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n";
  s += "<header>\n<h1>" + xml_escape(title) + "</h1>\n";
  s += "<p class=\"note\">Generated " + xml_escape(opt.generated_at.empty() ? utc_now("%Y-%m-%d %H:%M UTC") : opt.generated_at) +
       " from run directories alone. Regenerate with:</p>\n";
  s += "<pre><code class=\"command\">" + xml_escape(opt.command.empty() ? "vlb report ... --html" : opt.command) +
       "</code></pre>\n";
  if (lbs.size() > 1) {
    s += "<nav><b>Experiments:</b> ";
    for (const auto& lb : lbs)
      s += "<a href=\"#exp-" + html_id(lb.experiment) + "\">" + xml_escape(lb.experiment) + "</a> ";
    s += "</nav>\n";
  }
  s += "</header>\n";
  for (const auto& lb : lbs) s += experiment_section(lb, opt);
  s += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return s;
}

}  // namespace vlb
