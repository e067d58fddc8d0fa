#include "tools/footprint_text.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/printing.h"
#include "tools/report_text.h"

namespace vigie::tools {
namespace {

std::string Figure(std::optional<double> value) {
  return value ? absl::StrFormat("%.6g", *value) : std::string(kAbsent);
}

std::string Signed(std::optional<double> share) {
  return share ? absl::StrFormat("%+.1f%%", *share * 100)
               : std::string(kAbsent);
}

std::string Share(std::optional<double> share) {
  return share ? absl::StrFormat("%.1f%%", *share * 100) : std::string(kAbsent);
}

template <typename T>
std::optional<double> Opt(bool has, T value) {
  return has ? std::optional<double>(value) : std::nullopt;
}

}  // namespace

void PrintFootprintText(const v1::GetMetricsReply& reply, std::ostream& out) {
  if (!reply.has_footprint()) return;
  const v1::Footprint& f = reply.footprint();
  out << "\nenergy and carbon: " << FormatCount(f.costed()) << " of "
      << FormatCount(f.predictions()) << " predictions with a cost ("
      << FormatCount(f.estimated()) << " estimated from latency), "
      << absl::StrFormat("%.6g", f.energy_kwh()) << " kWh, "
      << absl::StrFormat("%.6g", f.carbon_grams()) << " g CO2e\n";
  const auto interval = [](bool has, double lower, double upper) {
    return has ? absl::StrFormat("[%.6g, %.6g]", lower, upper)
               : std::string(kAbsent);
  };
  std::vector<std::vector<std::string>> rows = {
      {"per 1,000 predictions", "value", "95% interval", "baseline", "change",
       "budget", "of budget", "baseline source"},
      {"energy (J)",
       Figure(Opt(f.has_energy_joules_per_1000(), f.energy_joules_per_1000())),
       interval(f.has_energy_joules_per_1000_lower(),
                f.energy_joules_per_1000_lower(),
                f.energy_joules_per_1000_upper()),
       Figure(Opt(f.has_baseline_energy_joules_per_1000(),
                  f.baseline_energy_joules_per_1000())),
       Signed(Opt(f.has_energy_change(), f.energy_change())),
       Figure(Opt(f.has_energy_budget_joules_per_1000(),
                  f.energy_budget_joules_per_1000())),
       Share(Opt(f.has_energy_budget_share(), f.energy_budget_share())),
       f.energy_baseline_source()},
      {"carbon (g CO2e)",
       Figure(Opt(f.has_carbon_grams_per_1000(), f.carbon_grams_per_1000())),
       interval(f.has_carbon_grams_per_1000_lower(),
                f.carbon_grams_per_1000_lower(),
                f.carbon_grams_per_1000_upper()),
       Figure(Opt(f.has_baseline_carbon_grams_per_1000(),
                  f.baseline_carbon_grams_per_1000())),
       Signed(Opt(f.has_carbon_change(), f.carbon_change())),
       Figure(Opt(f.has_carbon_budget_grams_per_1000(),
                  f.carbon_budget_grams_per_1000())),
       Share(Opt(f.has_carbon_budget_share(), f.carbon_budget_share())),
       f.carbon_baseline_source()}};
  PrintTable(rows, "  ", out, "lrrrrrrl");
}

}  // namespace vigie::tools
