#include "monitors/footprint.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "monitors/stats.h"
#include "vigie/state/v1/footprint.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
// Larger costs are taken for unit mistakes (a petajoule per prediction) and
// ignored, so that one cannot swamp a window's sums.
constexpr double kMaxCost = 1e15;
// 1.96: the normal quantile of a two-sided 95% interval.
constexpr double kZ95 = 1.959963984540054;

bool ValidCost(double value) {
  return std::isfinite(value) && value >= 0 && value <= kMaxCost;
}

bool ValidIntensity(double value) { return std::isfinite(value) && value >= 0; }

// 1,000 x the mean of n values of sum `sum` and sum of squares `squares`,
// and its 95% interval from their sample variance.
void PerThousand(uint64_t n, double sum, double squares,
                 std::optional<double>* mean_out,
                 std::optional<Interval>* interval_out) {
  if (n == 0) return;
  const double count = static_cast<double>(n);
  const double mean = sum / count;
  *mean_out = 1000 * mean;
  if (n < 2) return;
  // Rounding may leave a tiny negative for equal values.
  const double variance =
      std::max(0.0, (squares - sum * mean) / static_cast<double>(n - 1));
  const double half = kZ95 * std::sqrt(variance / count);
  *interval_out =
      Interval{1000 * std::max(0.0, mean - half), 1000 * (mean + half)};
}

}  // namespace

std::optional<double> CarbonIntensity::At(absl::Time time) const {
  // The last period starting at or before `time`: the only one that may
  // hold it, since they are in order and do not overlap.
  const auto after = std::upper_bound(
      dated.begin(), dated.end(), time,
      [](absl::Time t, const Dated& period) { return t < period.start; });
  if (after != dated.begin() && time < std::prev(after)->end) {
    return std::prev(after)->grams_per_kwh;
  }
  if (!daily.empty()) {
    // ToUnixSeconds rounds towards the infinite past, and the modulo is
    // taken non-negative, so times before 1970 fall in their own hour too.
    constexpr int64_t kDay = 24 * 3600;
    const int64_t of_day =
        ((absl::ToUnixSeconds(time) % kDay) + kDay) % kDay / 3600;
    for (const Daily& hours : daily) {
      if (of_day >= hours.from_hour && of_day < hours.to_hour) {
        return hours.grams_per_kwh;
      }
    }
  }
  return constant;
}

absl::Status CarbonIntensity::Validate() const {
  if (constant.has_value() && !ValidIntensity(*constant)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "carbon_intensity must be a finite number >= 0, got ", *constant));
  }
  for (size_t i = 0; i < daily.size(); ++i) {
    const Daily& d = daily[i];
    const std::string where = absl::StrCat("carbon_intensity_schedule: hours ",
                                           d.from_hour, " to ", d.to_hour);
    if (d.from_hour < 0 || d.to_hour > 24 || d.from_hour >= d.to_hour) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": must satisfy 0 <= from_hour < to_hour <= 24"));
    }
    if (!ValidIntensity(d.grams_per_kwh)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": intensity must be a finite number >= 0, got ",
                       d.grams_per_kwh));
    }
    for (size_t j = 0; j < i; ++j) {
      if (daily[j].from_hour < d.to_hour && d.from_hour < daily[j].to_hour) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " overlap hours ", daily[j].from_hour, " to ",
                         daily[j].to_hour));
      }
    }
  }
  if (dated.size() > kMaxDatedPeriods) {
    return absl::InvalidArgumentError(
        absl::StrCat("carbon_intensity_schedule has ", dated.size(),
                     " dated periods, at most ", kMaxDatedPeriods));
  }
  for (size_t i = 0; i < dated.size(); ++i) {
    const Dated& d = dated[i];
    const std::string where = absl::StrCat("carbon_intensity_schedule: period ",
                                           absl::FormatTime(d.start), " to ",
                                           absl::FormatTime(d.end));
    if (!(d.start < d.end)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": start must be before end"));
    }
    if (!ValidIntensity(d.grams_per_kwh)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": intensity must be a finite number >= 0, got ",
                       d.grams_per_kwh));
    }
    if (i > 0 && d.start < dated[i - 1].end) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          dated[i - 1].start < d.start
              ? " overlaps the period before it"
              : " starts before the period before it: give dated periods "
                "in time order"));
    }
  }
  return absl::OkStatus();
}

absl::Status FootprintCosting::Validate() const {
  if (absl::Status s = carbon_intensity.Validate(); !s.ok()) return s;
  for (const auto& [name, watts] : hardware_power_watts) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          "hardware_power_watts has an empty hardware class");
    }
    if (!std::isfinite(watts) || watts < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("hardware_power_watts of '", name,
                       "' must be a finite number >= 0, got ", watts));
    }
  }
  return absl::OkStatus();
}

FootprintCost CostOf(const PredictionView& prediction,
                     const FootprintCosting& costing) {
  FootprintCost cost;
  if (prediction.energy_joules.has_value()) {
    cost.energy_joules = prediction.energy_joules;
  } else if (prediction.latency_seconds.has_value()) {
    const auto power =
        costing.hardware_power_watts.find(prediction.hardware_class);
    if (power != costing.hardware_power_watts.end()) {
      cost.energy_joules = *prediction.latency_seconds * power->second;
      cost.estimated = true;
    }
  }
  if (cost.energy_joules.has_value()) {
    if (const std::optional<double> intensity =
            costing.carbon_intensity.At(prediction.event_time)) {
      cost.carbon_grams = *cost.energy_joules / kJoulesPerKwh * *intensity;
    }
  }
  return cost;
}

std::optional<double> RelativeChange(std::optional<double> value,
                                     std::optional<double> baseline) {
  if (!value.has_value() || !baseline.has_value() || !(*baseline > 0)) {
    return std::nullopt;
  }
  return *value / *baseline - 1;
}

void FootprintMonitor::Observe(const FootprintCost& cost) {
  predictions_ = SaturatingAdd(predictions_, 1);
  if (!cost.energy_joules.has_value()) return;
  const double energy = *cost.energy_joules;
  if (!ValidCost(energy) ||
      (cost.carbon_grams.has_value() && !ValidCost(*cost.carbon_grams))) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return;
  }
  costed_ = SaturatingAdd(costed_, 1);
  if (cost.estimated) estimated_ = SaturatingAdd(estimated_, 1);
  energy_ += energy;
  energy_squares_ += energy * energy;
  if (cost.carbon_grams.has_value()) {
    carbon_costed_ = SaturatingAdd(carbon_costed_, 1);
    carbon_ += *cost.carbon_grams;
    carbon_squares_ += *cost.carbon_grams * *cost.carbon_grams;
  }
}

void FootprintMonitor::Merge(const FootprintMonitor& other) {
  predictions_ = SaturatingAdd(predictions_, other.predictions_);
  costed_ = SaturatingAdd(costed_, other.costed_);
  estimated_ = SaturatingAdd(estimated_, other.estimated_);
  carbon_costed_ = SaturatingAdd(carbon_costed_, other.carbon_costed_);
  ignored_ = SaturatingAdd(ignored_, other.ignored_);
  energy_ += other.energy_;
  energy_squares_ += other.energy_squares_;
  carbon_ += other.carbon_;
  carbon_squares_ += other.carbon_squares_;
}

FootprintMetrics FootprintMonitor::Snapshot() const {
  FootprintMetrics m;
  m.predictions = predictions_;
  m.costed = costed_;
  m.estimated = estimated_;
  m.carbon_costed = carbon_costed_;
  m.ignored = ignored_;
  if (predictions_ > 0) {
    m.cost_coverage =
        static_cast<double>(costed_) / static_cast<double>(predictions_);
  }
  m.energy_joules = energy_;
  m.energy_kwh = energy_ / kJoulesPerKwh;
  m.carbon_grams = carbon_;
  PerThousand(costed_, energy_, energy_squares_, &m.energy_joules_per_1000,
              &m.energy_joules_per_1000_interval);
  PerThousand(carbon_costed_, carbon_, carbon_squares_,
              &m.carbon_grams_per_1000, &m.carbon_grams_per_1000_interval);
  return m;
}

void FootprintMonitor::ToProto(state::v1::FootprintState* state) const {
  state->set_version(kStateVersion);
  state->set_predictions(predictions_);
  state->set_costed(costed_);
  state->set_estimated(estimated_);
  state->set_carbon_costed(carbon_costed_);
  state->set_ignored(ignored_);
  state->set_energy_joules(energy_);
  state->set_energy_squares(energy_squares_);
  state->set_carbon_grams(carbon_);
  state->set_carbon_squares(carbon_squares_);
}

absl::StatusOr<FootprintMonitor> FootprintMonitor::FromProto(
    const state::v1::FootprintState& state) {
  const auto corrupt = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("footprint state: ", what));
  };
  if (state.version() != kStateVersion) {
    return corrupt(absl::StrCat("version ", state.version(), ", expected ",
                                kStateVersion));
  }
  if (state.costed() > state.predictions() ||
      state.estimated() > state.costed() ||
      state.carbon_costed() > state.costed()) {
    return corrupt(absl::StrCat("inconsistent counts: ", state.predictions(),
                                " predictions, ", state.costed(), " costed, ",
                                state.estimated(), " estimated, ",
                                state.carbon_costed(), " with carbon"));
  }
  for (const double sum : {state.energy_joules(), state.energy_squares(),
                           state.carbon_grams(), state.carbon_squares()}) {
    if (!std::isfinite(sum) || sum < 0) {
      return corrupt(absl::StrCat("a sum is negative or not finite: ", sum));
    }
  }
  if ((state.costed() == 0 &&
       (state.energy_joules() != 0 || state.energy_squares() != 0)) ||
      (state.carbon_costed() == 0 &&
       (state.carbon_grams() != 0 || state.carbon_squares() != 0))) {
    return corrupt("sums without observations");
  }
  FootprintMonitor monitor;
  monitor.predictions_ = state.predictions();
  monitor.costed_ = state.costed();
  monitor.estimated_ = state.estimated();
  monitor.carbon_costed_ = state.carbon_costed();
  monitor.ignored_ = state.ignored();
  monitor.energy_ = state.energy_joules();
  monitor.energy_squares_ = state.energy_squares();
  monitor.carbon_ = state.carbon_grams();
  monitor.carbon_squares_ = state.carbon_squares();
  return monitor;
}

std::string FootprintMonitor::Serialize() const {
  state::v1::FootprintState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<FootprintMonitor> FootprintMonitor::Deserialize(
    absl::string_view bytes) {
  state::v1::FootprintState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("footprint state does not parse");
  }
  return FromProto(state);
}

}  // namespace vigie::monitors
