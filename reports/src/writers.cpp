// Built-in report writers: markdown (for people), csv (long format, for plotting), json, and latex
// (the booktabs table of render_latex, written by `vlb report --latex`).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format.h"
#include "vlb/reports/page.h"
#include "vlb/reports/report.h"

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
  std::string extension() const override { return "md"; }

  std::string render(const Leaderboard& lb) const override {
    std::string out = "# " + lb.experiment + " — leaderboard\n\n";
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
        std::string text = c ? fmt_cell(*c, pct, true) : "—";
        out += " " + (bold ? "**" + text + "**" : text) + " |";
      }
      out += "\n";
    }

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
          std::string text = c ? fmt_cell(*c, as_percent(lb, m), false) : "—";
          out += " " + (bold ? "**" + text + "**" : text) + " |";
        }
        out += "\n";
      }
    }
    append_failures(lb, out);
    return out;
  }

 private:
  static void append_failures(const Leaderboard& lb, std::string& out) {
    if (lb.failures.empty()) return;
    out += "\n## Failed runs\n\n";
    for (const auto& f : lb.failures) out += "- " + f + "\n";
  }
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

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
  s += fmt::format("\\caption{{{}: {}{}, mean $\\pm$ std over {} seed{}; best per column in bold{}.}}\n",
                   tex(lb.experiment), tex(pm), pct ? " (\\%)" : "", lb.seeds.size(),
                   lb.seeds.size() == 1 ? "" : "s",
                   base.empty() ? "" : "; in parentheses: $\\Delta$ to " + tex(base));
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
      std::string text = pm_text(fmt_cell(*c, pct, false));
      s += " & " + (bold ? "\\textbf{" + text + "}" : text);
      const Cell* b = base.empty() ? nullptr : find_cell(lb, pm, base, col);
      if (b && row != base) s += fmt::format(" ({:+.2f})", scale_of(lb, pm) * (c->mean - b->mean));
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
  reg.add(writer_entry<MarkdownWriter>(
      "markdown", "leaderboard.md: primary-metric pivot (best in bold) + one table per column"));
  reg.add(writer_entry<CsvWriter>("csv", "leaderboard.csv: long format row,column,metric,mean,std,n"));
  reg.add(writer_entry<JsonWriter>("json", "leaderboard.json: rows, columns and every cell"));
  reg.add(writer_entry<LatexWriter>("latex", "leaderboard.tex: booktabs table of the primary metric"));
}

}  // namespace vlb
