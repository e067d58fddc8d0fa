// The footprint section of the report page: energy and carbon per 1,000
// predictions over time against the model's baselines and budgets
// (referential Q6.1, rule E1).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/report/html.h"
#include "services/report/report_sections.h"
#include "services/report/svg_chart.h"

namespace vigie::report {
namespace {

// One quantity's row of the table and its chart.
struct Quantity {
  const char* name;  // "energy", "carbon".
  const char* unit;  // "J", "g CO2e".
  bool (v1::Footprint::*has)() const;
  double (v1::Footprint::*per_1000)() const;
  bool (v1::Footprint::*has_baseline)() const;
  double (v1::Footprint::*baseline)() const;
  const std::string& (v1::Footprint::*baseline_source)() const;
  bool (v1::Footprint::*has_budget)() const;
  double (v1::Footprint::*budget)() const;
  uint64_t (v1::Footprint::*sample)() const;
};

const Quantity kQuantities[] = {
    {"energy", "J", &v1::Footprint::has_energy_joules_per_1000,
     &v1::Footprint::energy_joules_per_1000,
     &v1::Footprint::has_baseline_energy_joules_per_1000,
     &v1::Footprint::baseline_energy_joules_per_1000,
     &v1::Footprint::energy_baseline_source,
     &v1::Footprint::has_energy_budget_joules_per_1000,
     &v1::Footprint::energy_budget_joules_per_1000, &v1::Footprint::costed},
    {"carbon", "g CO2e", &v1::Footprint::has_carbon_grams_per_1000,
     &v1::Footprint::carbon_grams_per_1000,
     &v1::Footprint::has_baseline_carbon_grams_per_1000,
     &v1::Footprint::baseline_carbon_grams_per_1000,
     &v1::Footprint::carbon_baseline_source,
     &v1::Footprint::has_carbon_budget_grams_per_1000,
     &v1::Footprint::carbon_budget_grams_per_1000,
     &v1::Footprint::carbon_costed}};

template <typename T>
std::optional<double> Opt(bool has, T value) {
  return has ? std::optional<double>(value) : std::nullopt;
}

std::string Row(const v1::Footprint& f, const Quantity& q) {
  const std::optional<double> value = Opt((f.*q.has)(), (f.*q.per_1000)());
  const std::optional<double> baseline =
      Opt((f.*q.has_baseline)(), (f.*q.baseline)());
  const std::optional<double> budget =
      Opt((f.*q.has_budget)(), (f.*q.budget)());
  std::optional<double> change;
  if (value && baseline && *baseline > 0) change = *value / *baseline - 1;
  return absl::StrCat(
      "<tr><td>", q.name, " (", q.unit, ")</td><td>", Count((f.*q.sample)()),
      "</td><td>", Number(value), "</td><td>", Number(baseline),
      baseline ? absl::StrCat(" (", Escape((f.*q.baseline_source)()), ")") : "",
      "</td><td>",
      change ? absl::StrCat(*change >= 0 ? "+" : "", Percent(change)) : "—",
      "</td><td>", Number(budget), "</td><td>",
      value && budget ? Percent(*value / *budget) : "—", "</td></tr>");
}

std::string Chart(const ReportData& data, const Quantity& q) {
  const v1::Footprint& f = data.current.footprint();
  Line line{absl::StrCat(q.name, " per 1,000 predictions"), {}};
  for (const Period& p : data.series) {
    const v1::Footprint& pf = p.metrics.footprint();
    if ((pf.*q.has)()) {
      line.points.push_back(
          {Middle(p), (pf.*q.per_1000)(),
           absl::StrCat(Number((pf.*q.per_1000)()), " ", q.unit, " per 1,000 (",
                        Count((pf.*q.sample)()), " predictions), ",
                        Time(p.start))});
    }
  }
  if (line.points.empty()) return "";
  std::vector<ReferenceLine> references;
  if ((f.*q.has_baseline)()) {
    references.push_back({(f.*q.baseline)(), "baseline"});
  }
  if ((f.*q.has_budget)()) references.push_back({(f.*q.budget)(), "budget"});
  std::vector<Line> lines;
  lines.push_back(std::move(line));
  return Figure(
      LineChart({absl::StrCat(q.name, " per 1,000 predictions over time"),
                 absl::StrCat(q.unit, " per 1,000"), std::move(lines),
                 std::move(references), 0.0, std::nullopt}),
      absl::StrCat("The ", q.name,
                   " of 1,000 predictions (of those that "
                   "reported a cost) per ",
                   PeriodName(data.period_length),
                   " period, against the model's baseline and budget "
                   "(dashed). Rising above them means each prediction now "
                   "costs more than planned."));
}

}  // namespace

bool HasFootprint(const ReportData& data) {
  return data.current.has_footprint() || data.all.has_footprint();
}

std::string FootprintSection(const ReportData& data) {
  if (!HasFootprint(data)) return "";  // No cost reported: nothing to say.
  const auto alerts = OpenAlerts(data, Family::kFootprint);
  const v1::Footprint& f = data.current.footprint();
  std::string body;
  if (f.costed() == 0) {
    body = absl::StrCat(
        Verdict(alerts), "<p>No prediction of the last ",
        Escape(absl::FormatDuration(data.current_length)),
        " reported its cost (energy, or latency and hardware class).</p>");
  } else {
    std::string rows;
    for (const Quantity& q : kQuantities) rows += Row(f, q);
    body = absl::StrCat(
        Verdict(alerts), "<p>Over the last ",
        Escape(absl::FormatDuration(data.current_length)), ", ",
        Count(f.costed()), " of ", Count(f.predictions()),
        " predictions reported their cost (",
        Percent(Opt(f.has_cost_coverage(), f.cost_coverage())), "; ",
        Count(f.estimated()),
        " estimated from latency and hardware power): ", Number(f.energy_kwh()),
        " kWh and ", Number(f.carbon_grams()),
        " g CO2e in total.</p><table><tr><th>per 1,000 predictions</th>"
        "<th>predictions</th><th>now</th><th>baseline</th><th>change</th>"
        "<th>budget</th><th>of budget</th></tr>",
        rows, "</table>");
    for (const Quantity& q : kQuantities) body += Chart(data, q);
  }
  return absl::StrCat(
      "<section id=\"footprint\"><h2>Energy and carbon</h2>"
      "<p>What the model's predictions cost in energy and carbon, per 1,000 "
      "of them, against its baseline and budget (referential Q6.1).</p>",
      body, "</section>");
}

}  // namespace vigie::report
