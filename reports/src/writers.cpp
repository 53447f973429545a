// Built-in report writers: markdown (for people), csv (long format, for plotting), json, and latex
// (the booktabs table of render_latex, written by `vlb report --latex`).
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format.h"
#include "vlb/reports/page.h"
#include "vlb/reports/report.h"
#include "vlb/reports/selection.h"

namespace vlb {
namespace {

using namespace report_format;


std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

class MarkdownWriter : public ReportWriter {
 public:
  explicit MarkdownWriter(bool aux = false) : aux_(aux) {}
  std::string extension() const override { return "md"; }

  std::string render(const Leaderboard& lb) const override {
    std::string out = "# " + lb.experiment + " — leaderboard\n\n";
    append_provenance(lb, out);
    if (lb.primary_metric.empty()) {
      out += "No successful runs";
      out += lb.failed_runs ? fmt::format(" ({} failed).\n", lb.failed_runs) : ".\n";
      append_failures(lb, out);
      return out;
    }
    const std::string& pm = lb.primary_metric;
    std::string seeds;
    for (size_t i = 0; i < lb.seeds.size(); ++i) seeds += (i ? ", " : "") + std::to_string(lb.seeds[i]);
    out += fmt::format("Primary metric: `{}` ({}) · {} run{} · {} seed{} ({})", pm,
                       higher_better(lb, pm) ? "↑ higher is better" : "↓ lower is better",
                       lb.ok_runs, lb.ok_runs == 1 ? "" : "s", lb.seeds.size(),
                       lb.seeds.size() == 1 ? "" : "s", seeds);
    if (lb.failed_runs) {
      out += fmt::format(" · **{} failed run{}**", lb.failed_runs, lb.failed_runs == 1 ? "" : "s");
    }
    out += "\n\n";
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "`" : ", `") + x + "`";
      return s.empty() ? std::string("nothing") : s;
    };
    out += "Rows vary by " + join(lb.row_keys) + "; columns vary by " + join(lb.column_keys) +
           ". Cells: mean ± sample std over seeds" +
           (as_percent(lb, pm) ? ", in percent" : "") + "; best per column in bold.\n\n";
    out += selection_summary(lb);

    // Main pivot: primary metric, rows x columns.
    out += "## " + metric_title(lb, pm) + "\n\n| method |";
    for (const auto& col : lb.columns) out += " " + md_escape(column_title(col)) + " |";
    out += "\n|---|";
    for (size_t i = 0; i < lb.columns.size(); ++i) out += "---|";
    out += "\n";
    bool pct = as_percent(lb, pm);
    for (const auto& row : lb.rows) {
      out += "| " + md_escape(row) + " |";
      for (const auto& col : lb.columns) {
        const Cell* c = find_cell(lb, pm, row, col);
        double best = 0.0;
        bool bold = c && best_in_column(lb, pm, col, best) && c->mean == best;
        std::string text = c ? fmt_cell_ci(lb, pm, row, col, *c, pct, true) : "—";
        const CellComparison* cc = find_comparison(lb, pm, row, col);
        std::string mark = cc && !cc->mark.empty() ? " " + cc->mark : "";
        out += " " + (bold ? "**" + text + "**" : text) + mark + " |";
      }
      out += "\n";
    }
    append_stats_legend(lb, pm, out);

    // One detail table per column: every metric side by side.
    std::vector<std::string> metrics = metric_order(lb);
    for (const auto& col : lb.columns) {
      out += "\n## Details: " + md_escape(column_title(col)) + "\n\n| method |";
      for (const auto& m : metrics) out += " " + metric_title(lb, m) + " |";
      out += "\n|---|";
      for (size_t i = 0; i < metrics.size(); ++i) out += "---|";
      out += "\n";
      for (const auto& row : lb.rows) {
        out += "| " + md_escape(row) + " |";
        for (const auto& m : metrics) {
          const Cell* c = find_cell(lb, m, row, col);
          double best = 0.0;
          bool bold = c && best_in_column(lb, m, col, best) && c->mean == best;
          std::string text = c ? fmt_cell_ci(lb, m, row, col, *c, as_percent(lb, m), false) : "—";
          out += " " + (bold ? "**" + text + "**" : text) + " |";
        }
        out += "\n";
      }
      append_stats_legend(lb, "", out);
    }
    if (aux_) append_aux(lb, out);
    append_failures(lb, out);
    return out;
  }

 private:
  bool aux_;

  // Under a table: how intervals and marks were computed, and why some cells have none.
  static void append_stats_legend(const Leaderboard& lb, const std::string& metric, std::string& out) {
    std::string legend = stats_legend(lb);
    if (legend.empty()) return;
    out += "\n" + legend + ".";
    out += md_escape(stats_remarks(lb, metric));
    out += "\n";
  }

  // Runs of earlier plans and unreadable run directories: said before any table.
  static void append_provenance(const Leaderboard& lb, std::string& out) {
    bool any = false;
    if (lb.stale_runs > 0) {
      out += fmt::format("> {} stale run{} (not in the current plan) shown, marked `{}`.\n",
                         lb.stale_runs, lb.stale_runs == 1 ? "" : "s", std::string(kStaleMarker).substr(1));
      any = true;
    }
    if (lb.stale_left_out > 0) {
      out += fmt::format("> {} run{} not in the current plan left out (`--all` shows them).\n",
                         lb.stale_left_out, lb.stale_left_out == 1 ? "" : "s");
      any = true;
    }
    for (const auto& d : lb.damaged) {
      out += "> **Damaged run directory** `" + d.dir + "` left out: " + md_escape(d.message) + "\n";
      any = true;
    }
    if (any) out += "\n";
  }

  // One table per aux value (method side outputs such as a searched alpha), mean over seeds.
  static void append_aux(const Leaderboard& lb, std::string& out) {
    for (const auto& [name, by_row] : lb.aux) {
      out += "\n## Aux: " + md_escape(name) + "\n\n| method |";
      for (const auto& col : lb.columns) out += " " + md_escape(column_title(col)) + " |";
      out += "\n|---|";
      for (size_t i = 0; i < lb.columns.size(); ++i) out += "---|";
      out += "\n";
      for (const auto& row : lb.rows) {
        auto r = by_row.find(row);
        if (r == by_row.end()) continue;
        out += "| " + md_escape(row) + " |";
        for (const auto& col : lb.columns) {
          auto c = r->second.find(col);
          out += " " + (c == r->second.end() ? std::string("—") : fmt_cell(c->second, false, true)) + " |";
        }
        out += "\n";
      }
    }
  }

  static void append_failures(const Leaderboard& lb, std::string& out) {
    if (lb.failures.empty()) return;
    out += "\n## Failed runs\n\n";
    for (const auto& f : lb.failures) out += "- " + f + "\n";
  }
};

class CsvWriter : public ReportWriter {
 public:
  std::string extension() const override { return "csv"; }
  std::string render(const Leaderboard& lb) const override {
    std::string out = "row,column,metric,mean,std,n\n";
    std::vector<std::string> metrics = metric_order(lb);
    for (const auto& row : lb.rows)
      for (const auto& col : lb.columns)
        for (const auto& m : metrics) {
          const Cell* c = find_cell(lb, m, row, col);
          if (!c) continue;
          // Shortest round-trip text: no precision lost for downstream tools.
          out += csv_field(row) + "," + csv_field(col) + "," + csv_field(m) + "," +
                 fmt::format("{},{},{}\n", c->mean, c->std, c->n);
        }
    return out;
  }
};

class JsonWriter : public ReportWriter {
 public:
  std::string extension() const override { return "json"; }
  std::string render(const Leaderboard& lb) const override {
    // ordered_json keeps rows/columns in leaderboard order inside "cells" too.
    nlohmann::ordered_json j;
    j["experiment"] = lb.experiment;
    j["primary_metric"] = lb.primary_metric;
    j["row_keys"] = lb.row_keys;
    j["column_keys"] = lb.column_keys;
    j["rows"] = lb.rows;
    j["columns"] = lb.columns;
    nlohmann::ordered_json hib = nlohmann::ordered_json::object();
    for (const auto& m : metric_order(lb)) hib[m] = higher_better(lb, m);
    j["higher_is_better"] = hib;
    nlohmann::ordered_json cells = nlohmann::ordered_json::object();
    for (const auto& m : metric_order(lb)) {
      nlohmann::ordered_json by_row = nlohmann::ordered_json::object();
      for (const auto& row : lb.rows) {
        nlohmann::ordered_json by_col = nlohmann::ordered_json::object();
        for (const auto& col : lb.columns) {
          if (const Cell* c = find_cell(lb, m, row, col)) {
            by_col[col] = {{"mean", c->mean}, {"std", c->std}, {"n", c->n}};
          }
        }
        if (!by_col.empty()) by_row[row] = by_col;
      }
      cells[m] = by_row;
    }
    j["cells"] = cells;
    // Per-sample statistics (empty objects when `vlb report --resamples 0`).
    const SampleStatsSettings& st = lb.sample_stats;
    j["sample_stats"] = {{"resamples", st.resamples}, {"seed", st.seed}, {"level", st.level},
                         {"alpha", st.alpha}, {"baseline_row", st.baseline_row}};
    nlohmann::ordered_json ivs = nlohmann::ordered_json::object(), cmps = nlohmann::ordered_json::object();
    for (const auto& m : metric_order(lb)) {
      nlohmann::ordered_json iv_rows = nlohmann::ordered_json::object(), cmp_rows = nlohmann::ordered_json::object();
      for (const auto& row : lb.rows) {
        nlohmann::ordered_json iv_cols = nlohmann::ordered_json::object(), cmp_cols = nlohmann::ordered_json::object();
        for (const auto& col : lb.columns) {
          if (const CellInterval* iv = find_interval(lb, m, row, col))
            iv_cols[col] = {{"lo", iv->lo}, {"hi", iv->hi}, {"resamples", iv->resamples},
                            {"effective_seeds", iv->effective_seeds}, {"valid", iv->valid}, {"note", iv->note}};
          if (const CellComparison* c = find_comparison(lb, m, row, col))
            cmp_cols[col] = {{"test", c->test}, {"diff", c->diff}, {"lo", c->lo}, {"hi", c->hi},
                             {"p", c->p}, {"p_holm", c->p_holm}, {"mark", c->mark}, {"note", c->note},
                             {"seeds_identical", c->seeds_identical}, {"effective_seeds", c->effective_seeds},
                             {"seeds", c->seeds}, {"rows", c->rows}};
        }
        if (!iv_cols.empty()) iv_rows[row] = iv_cols;
        if (!cmp_cols.empty()) cmp_rows[row] = cmp_cols;
      }
      if (!iv_rows.empty()) ivs[m] = iv_rows;
      if (!cmp_rows.empty()) cmps[m] = cmp_rows;
    }
    j["intervals"] = ivs;
    j["comparisons"] = cmps;
    nlohmann::ordered_json aux = nlohmann::ordered_json::object();
    for (const auto& [name, by_row] : lb.aux) {
      nlohmann::ordered_json rows = nlohmann::ordered_json::object();
      for (const auto& row : lb.rows) {
        auto r = by_row.find(row);
        if (r == by_row.end()) continue;
        nlohmann::ordered_json cols = nlohmann::ordered_json::object();
        for (const auto& col : lb.columns) {
          auto c = r->second.find(col);
          if (c != r->second.end()) cols[col] = {{"mean", c->second.mean}, {"std", c->second.std}, {"n", c->second.n}};
        }
        rows[row] = cols;
      }
      aux[name] = rows;
    }
    j["aux"] = aux;
    // Details: what each cell is (identity) and where its data and runs are.
    nlohmann::ordered_json ids = nlohmann::ordered_json::object();
    for (const auto& row : lb.rows) {
      auto r = lb.identity.find(row);
      if (r == lb.identity.end()) continue;
      nlohmann::ordered_json cols = nlohmann::ordered_json::object();
      for (const auto& col : lb.columns) {
        auto c = r->second.find(col);
        if (c == r->second.end()) continue;
        nlohmann::ordered_json cell = {{"identity", c->second}};
        auto dirs = lb.run_dirs.find(row);
        if (dirs != lb.run_dirs.end() && dirs->second.count(col)) cell["run_dirs"] = dirs->second.at(col);
        cols[col] = cell;
      }
      ids[row] = cols;
    }
    j["details"] = {{"cells", ids}, {"datasets", lb.dataset_paths}};
    std::vector<std::string> stale(lb.stale_rows.begin(), lb.stale_rows.end());
    j["stale_rows"] = stale;
    j["stale_runs"] = lb.stale_runs;
    j["stale_left_out"] = lb.stale_left_out;
    nlohmann::ordered_json damaged = nlohmann::ordered_json::array();
    for (const auto& d : lb.damaged) damaged.push_back({{"dir", d.dir}, {"file", d.file}, {"error", d.message}});
    j["damaged"] = damaged;
    j["ok_runs"] = lb.ok_runs;
    j["seeds"] = lb.seeds;
    j["failed_runs"] = lb.failed_runs;
    j["failures"] = lb.failures;
    return j.dump(2) + "\n";
  }
};

}  // namespace

std::string render_latex(const Leaderboard& lb, const std::string& baseline_row) {
  auto tex = [](const std::string& in) {
    std::string out;
    for (char c : in) {
      switch (c) {
        case '_': case '%': case '&': case '#': case '$': case '{': case '}':
          out += '\\';
          out += c;
          break;
        case '~': out += "\\textasciitilde{}"; break;
        case '^': out += "\\textasciicircum{}"; break;
        case '\\': out += "\\textbackslash{}"; break;
        default: out += c;
      }
    }
    return out;
  };
  auto pm_text = [&](const std::string& cell) {  // "±" (UTF-8) -> math, the rest escaped
    std::string t = tex(cell);
    size_t p;
    while ((p = t.find("±")) != std::string::npos) t.replace(p, std::string("±").size(), "$\\pm$");
    return t;
  };
  const std::string& pm = lb.primary_metric;
  if (pm.empty()) return "% " + tex(lb.experiment) + ": no successful runs\n";
  bool pct = as_percent(lb, pm);
  std::string base = baseline_row.empty() ? "" : resolve_baseline_row(lb, baseline_row);
  std::string s = "% Generated by `vlb report --latex` from run directories; needs \\usepackage{booktabs}.\n";
  s += "\\begin{table}[t]\n\\centering\n";
  std::string stats;
  if (lb.sample_stats.resamples > 0) {
    const SampleStatsSettings& st = lb.sample_stats;
    stats = fmt::format("; in brackets: {:.0f}\\,\\% percentile bootstrap interval over rows (and seeds), "
                        "{} resamples; $\\uparrow$/$\\downarrow$: Holm-corrected paired per-sample test "
                        "at {:.0f}\\,\\% against {}",
                        100.0 * st.level, thousands(st.resamples), 100.0 * st.alpha, tex(st.baseline_row));
  }
  s += fmt::format("\\caption{{{}: {}{}, mean $\\pm$ std over {} seed{}; best per column in bold{}{}.}}\n",
                   tex(lb.experiment), tex(pm), pct ? " (\\%)" : "", lb.seeds.size(),
                   lb.seeds.size() == 1 ? "" : "s",
                   base.empty() ? "" : "; in parentheses: $\\Delta$ to " + tex(base), stats);
  s += "\\begin{tabular}{l" + std::string(lb.columns.size(), 'c') + "}\n\\toprule\nmethod";
  for (const auto& col : lb.columns) s += " & " + tex(column_title(col));
  s += " \\\\\n\\midrule\n";
  for (const auto& row : lb.rows) {
    s += tex(row);
    for (const auto& col : lb.columns) {
      const Cell* c = find_cell(lb, pm, row, col);
      if (!c) {
        s += " & --";
        continue;
      }
      double best = 0.0;
      bool bold = best_in_column(lb, pm, col, best) && c->mean == best;
      std::string text = pm_text(fmt_cell_ci(lb, pm, row, col, *c, pct, false));
      s += " & " + (bold ? "\\textbf{" + text + "}" : text);
      const Cell* b = base.empty() ? nullptr : find_cell(lb, pm, base, col);
      if (b && row != base) s += fmt::format(" ({:+.2f})", scale_of(lb, pm) * (c->mean - b->mean));
      // Marks of the per-sample tests (against lb.sample_stats.baseline_row): plain math arrows.
      const CellComparison* cc = find_comparison(lb, pm, row, col);
      if (cc && cc->mark == "▲") s += "$^{\\uparrow}$";
      if (cc && cc->mark == "▼") s += "$^{\\downarrow}$";
    }
    s += " \\\\\n";
  }
  s += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
  return s;
}

namespace {

class LatexWriter : public ReportWriter {
 public:
  std::string extension() const override { return "tex"; }
  std::string render(const Leaderboard& lb) const override { return render_latex(lb); }
};

template <class W>
RegistryEntry<ReportWriter> writer_entry(const std::string& name, const std::string& help) {
  RegistryEntry<ReportWriter> e;
  e.name = name;
  e.help = help;
  e.version = "1";
  e.factory = [](const Params&) -> std::unique_ptr<ReportWriter> { return std::make_unique<W>(); };
  return e;
}

}  // namespace

void register_builtin_writers(ReportWriterRegistry& reg) {
  RegistryEntry<ReportWriter> md;
  md.name = "markdown";
  md.help = "leaderboard.md: primary-metric pivot (best in bold) + one table per column";
  md.schema.add_bool("aux", false, "add a table per aux value (metrics.json \"aux\")");
  md.factory = [](const Params& p) -> std::unique_ptr<ReportWriter> {
    return std::make_unique<MarkdownWriter>(p.has("aux") && p.get_bool("aux"));
  };
  reg.add(std::move(md));
  register_tidy_writers(reg);
  reg.add(writer_entry<CsvWriter>("csv", "leaderboard.csv: long format row,column,metric,mean,std,n"));
  reg.add(writer_entry<JsonWriter>("json", "leaderboard.json: rows, columns and every cell"));
  reg.add(writer_entry<LatexWriter>("latex", "leaderboard.tex: booktabs table of the primary metric"));
}

}  // namespace vlb
