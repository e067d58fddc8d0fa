#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "monitors/prediction_view.h"
#include "monitors/stats.h"

namespace vigie::state::v1 {
class FootprintState;
}

namespace vigie::monitors {

// Joules in a kilowatt-hour.
inline constexpr double kJoulesPerKwh = 3.6e6;

// A grid's carbon intensity over time, in grams of CO2e per kWh: dated
// periods (a recorded or forecast series), else hours of the UTC day (a
// typical daily profile), else a constant. Plain value.
struct CarbonIntensity {
  // Hours [from_hour, to_hour) of every UTC day, 0 <= from < to <= 24.
  struct Daily {
    int from_hour = 0;
    int to_hour = 24;
    double grams_per_kwh = 0;
    bool operator==(const Daily&) const = default;
  };
  // Times [start, end).
  struct Dated {
    absl::Time start;
    absl::Time end;
    double grams_per_kwh = 0;
    bool operator==(const Dated&) const = default;
  };
  std::optional<double> constant;
  std::vector<Daily> daily;  // Not overlapping.
  // In time order, not overlapping, at most kMaxDatedPeriods (a decade of
  // hourly values): a grid operator's series can be long, so At() finds a
  // period by binary search.
  std::vector<Dated> dated;
  static constexpr size_t kMaxDatedPeriods = 100'000;

  // The intensity at `time`: the dated period holding it, else the daily
  // hours holding it, else the constant; empty when none does. O(log dated
  // + daily).
  std::optional<double> At(absl::Time time) const;
  // kInvalidArgument naming the period for a negative or non-finite
  // intensity, hours out of [0, 24] or empty, periods ending before they
  // start, overlapping ones, dated periods out of time order or too many.
  // O(daily^2 + dated).
  absl::Status Validate() const;
  bool empty() const { return !constant && daily.empty() && dated.empty(); }
  bool operator==(const CarbonIntensity&) const = default;
};

// How a prediction's cost becomes energy and carbon: the model's declared
// grid intensity and the mean power of its hardware classes.
struct FootprintCosting {
  CarbonIntensity carbon_intensity;
  // Mean power draw while serving one prediction, in watts, by hardware
  // class: a prediction with a latency and no energy used latency x power.
  std::map<std::string, double, std::less<>> hardware_power_watts;
  // kInvalidArgument for an invalid intensity, an empty class name or a
  // power that is negative or not finite.
  absl::Status Validate() const;
  bool operator==(const FootprintCosting&) const = default;
};

// One prediction's cost.
struct FootprintCost {
  // Joules; empty when the prediction carries no energy, and no latency on
  // a hardware class whose power is declared.
  std::optional<double> energy_joules;
  // Whether energy_joules is latency x power rather than measured.
  bool estimated = false;
  // Grams of CO2e: energy in kWh times the intensity at the event time;
  // empty without an energy or an intensity.
  std::optional<double> carbon_grams;
};

// The cost of `prediction` under `costing`: its energy_joules if given,
// else latency_seconds x hardware_power_watts[hardware_class]. O(log
// classes + intensity periods).
FootprintCost CostOf(const PredictionView& prediction,
                     const FootprintCosting& costing);

// What FootprintMonitor reports of a window. Per 1,000 predictions means
// per 1,000 of those with the quantity (costed, carbon_costed): a
// prediction without a cost did not cost nothing, and counting it as zero
// would let the figure fall whenever fewer producers report their costs.
struct FootprintMetrics {
  uint64_t predictions = 0;    // Observed.
  uint64_t costed = 0;         // With an energy.
  uint64_t estimated = 0;      // Of the costed, from latency x power.
  uint64_t carbon_costed = 0;  // Of the costed, with a carbon figure.
  uint64_t ignored = 0;        // Costs ignored as invalid.
  // costed / predictions; empty while predictions == 0.
  std::optional<double> cost_coverage;
  // Totals: joules and kWh of the costed, grams of the carbon-costed.
  double energy_joules = 0;
  double energy_kwh = 0;
  double carbon_grams = 0;
  // 1,000 x the mean per prediction, with a 95% normal-approximation
  // interval (mean +- 1.96 s / sqrt(n), clamped at 0; empty below n = 2);
  // empty while n == 0.
  std::optional<double> energy_joules_per_1000;
  std::optional<Interval> energy_joules_per_1000_interval;
  std::optional<double> carbon_grams_per_1000;
  std::optional<Interval> carbon_grams_per_1000_interval;
};

// value / baseline - 1: the trend against a baseline (0.2 is 20% above
// it); empty without both, or with a baseline that is not positive.
std::optional<double> RelativeChange(std::optional<double> value,
                                     std::optional<double> baseline);

// The energy and carbon of one model's predictions over a pane (or a merge
// of panes), for referential Q6.1 and rule E1. Carbon is computed at
// observation, from the intensity at the prediction's event time
// (CostOf), so the state is counts, sums and sums of squares: merging two
// sub-streams' states gives the whole stream's Snapshot() exactly for the
// counts and up to rounding for the sums. Thread-compatible.
class FootprintMonitor {
 public:
  // O(1). A cost that is negative, not finite, or above 1e15 J (or g) is
  // ignored and counted in `ignored`; the prediction still counts.
  void Observe(const FootprintCost& cost);
  // O(1). Never fails: the state has no options.
  void Merge(const FootprintMonitor& other);
  FootprintMetrics Snapshot() const;
  bool empty() const { return predictions_ == 0 && ignored_ == 0; }

  std::string Serialize() const;  // A vigie.state.v1.FootprintState.
  // kDataLoss for bytes that are not a consistent FootprintState.
  static absl::StatusOr<FootprintMonitor> Deserialize(absl::string_view bytes);
  void ToProto(state::v1::FootprintState* state) const;
  static absl::StatusOr<FootprintMonitor> FromProto(
      const state::v1::FootprintState& state);

 private:
  uint64_t predictions_ = 0;
  uint64_t costed_ = 0;
  uint64_t estimated_ = 0;
  uint64_t carbon_costed_ = 0;
  uint64_t ignored_ = 0;
  double energy_ = 0;
  double energy_squares_ = 0;
  double carbon_ = 0;
  double carbon_squares_ = 0;
};

}  // namespace vigie::monitors
