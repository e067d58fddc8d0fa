#include "monitors/calibration.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/stats.h"
#include "vigie/state/v1/calibration.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr uint64_t kMaxCount = std::numeric_limits<uint64_t>::max();
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi).

// A scaled prediction further than this from an integer is in the bin its
// integer part says: rounding p * B moves it by at most about 1e-13.
constexpr double kEdgeSlack = 1e-9;

// Above this binomial variance a bin's |deviation| is taken from the
// half-normal limit; below, from the binomial's terms (at most a few
// hundred: the mass beyond ten standard deviations is negligible).
constexpr double kHalfNormalVariance = 100;
// Terms of a binomial below this fraction of the term at its mean are left
// out of its moments.
constexpr double kNegligibleTerm = 1e-20;
// A bound on the terms summed per bin, for parameters no valid state has.
constexpr int kMaxTerms = 20000;
// Beyond this many predictions in a bin, k + 1 may round to k: such a bin
// (never seen in practice) takes the half-normal limit whatever its
// variance.
constexpr double kMaxBinomialCount = 0x1p40;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// How far a sum over n observations may stray from its exact bound: n
// roundings of up to an ulp each, and saturated counts (a merge past 2^64
// keeps adding sums to a count that no longer grows).
double Slack(double n) { return n * (1e-9 + n * 0x1p-52); }

absl::Status ValidateOptions(const CalibrationMonitor::Options& options) {
  if (options.num_bins < CalibrationMonitor::kMinBins ||
      options.num_bins > CalibrationMonitor::kMaxBins) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_bins must be in [", CalibrationMonitor::kMinBins, ", ",
        CalibrationMonitor::kMaxBins, "], got ", options.num_bins));
  }
  return absl::OkStatus();
}

// E|D|, E D^2 and E|D|^3 of a deviation D from a mean.
struct AbsMoments {
  double m1 = 0;
  double m2 = 0;
  double m3 = 0;
};

// Moments of |X - np| for X ~ Binomial(n, p), 0 < p < 1, summed outward
// from the mean. Terms are relative to the one at floor(np) and normalised
// by their total, so no factorial is ever formed and n may be huge.
AbsMoments BinomialAbsMoments(double n, double p) {
  const double mean = n * p;
  const double odds = p / (1 - p);
  const double start = std::min(std::floor(mean), n);
  double total = 0;
  AbsMoments m;
  const auto add = [&](double k, double w) {
    const double d = std::abs(k - mean);
    total += w;
    m.m1 += w * d;
    m.m2 += w * d * d;
    m.m3 += w * d * d * d;
  };
  add(start, 1);
  // The terms rise to the mode (at most one step above start) and then
  // fall: both walks stop once they are negligible.
  double weight = 1;
  for (int t = 0; t < kMaxTerms && start + t < n; ++t) {
    const double k = start + t;  // From the term at k to the one at k + 1.
    weight *= (n - k) / (k + 1) * odds;
    if (!(weight >= kNegligibleTerm)) break;
    add(k + 1, weight);
  }
  weight = 1;
  for (int t = 0; t < kMaxTerms && start - t > 0; ++t) {
    const double k = start - t;  // From the term at k to the one at k - 1.
    weight *= k / (n - k + 1) / odds;
    if (!(weight >= kNegligibleTerm)) break;
    add(k - 1, weight);
  }
  m.m1 /= total;
  m.m2 /= total;
  m.m3 /= total;
  return m;
}

// Cumulants of one bin's term (n_b / n) |o_b - pbar_b| of the ECE under
// perfect calibration.
struct TermCumulants {
  double mean = 0;
  double variance = 0;
  double third = 0;
};

TermCumulants NullTerm(uint64_t count, double sum_predicted,
                       double sum_squared_predicted, double total) {
  TermCumulants term;
  if (count == 0) return term;
  const double n = ToDouble(count);
  const double p = std::clamp(sum_predicted / n, 0.0, 1.0);
  // sum p (1 - p): the exact variance of the bin's positives.
  const double variance = std::max(0.0, sum_predicted - sum_squared_predicted);
  const double binomial_variance = n * p * (1 - p);
  // Predictions all 0 or all 1 leave nothing to chance.
  if (!(variance > 0) || !(binomial_variance > 0)) return term;

  // The shape of |S - E S| is a binomial's with the bin's mean; its scale is
  // the exact one (within-bin spread of p shrinks the variance a little).
  AbsMoments shape;
  if (binomial_variance >= kHalfNormalVariance || n > kMaxBinomialCount) {
    const double sd = std::sqrt(binomial_variance);
    shape = {kSqrt2OverPi * sd, binomial_variance,
             2 * kSqrt2OverPi * binomial_variance * sd};
  } else {
    shape = BinomialAbsMoments(n, p);
  }
  const double scale = std::sqrt(variance / binomial_variance);
  // The term is (1 / total) |S - E S|: n_b / n times the frequency gap.
  const double s1 = scale / total;
  const double m1 = s1 * shape.m1;
  const double m2 = variance / (total * total);
  const double m3 = s1 * s1 * s1 * shape.m3;
  term.mean = m1;
  term.variance = std::max(0.0, m2 - m1 * m1);
  term.third = m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1;
  return term;
}

}  // namespace

double NullEce::Quantile(double probability) const {
  // An ECE never exceeds 1; below the median the expansion is not meant to
  // be used.
  if (probability >= 1) return 1;
  if (!(stddev > 0)) return std::clamp(mean, 0.0, 1.0);
  const double z = NormalQuantile(std::max(probability, 0.5));
  const double w = z + (z * z - 1) * skewness / 6;
  return std::clamp(mean + stddev * w, 0.0, 1.0);
}

CalibrationMonitor::CalibrationMonitor(const Options& options)
    : options_(options), bins_(static_cast<size_t>(options.num_bins)) {}

absl::StatusOr<CalibrationMonitor> CalibrationMonitor::Create(
    const Options& options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) {
    return status;
  }
  return CalibrationMonitor(options);
}

double CalibrationMonitor::Edge(int i) const {
  return static_cast<double>(i) / static_cast<double>(options_.num_bins);
}

int CalibrationMonitor::BinIndex(double predicted) const {
  const int last = options_.num_bins - 1;
  const double scaled = predicted * static_cast<double>(options_.num_bins);
  int bin = std::min(static_cast<int>(scaled), last);
  const double fraction = scaled - static_cast<double>(bin);
  // Only a prediction within rounding of an edge pays the divisions that
  // settle it against the documented edge, the rounded i / B.
  if (fraction < kEdgeSlack || fraction > 1 - kEdgeSlack) {
    if (bin > 0 && predicted < Edge(bin)) {
      --bin;
    } else if (bin < last && predicted >= Edge(bin + 1)) {
      ++bin;
    }
  }
  return bin;
}

void CalibrationMonitor::Observe(double predicted, bool outcome) {
  // Written so that NaN fails the test too.
  if (!(predicted >= 0 && predicted <= 1)) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return;
  }
  Bin& bin = bins_[static_cast<size_t>(BinIndex(predicted))];
  // Branch-free: outcomes are unpredictable, and mispredicted branches
  // would cost more than the arithmetic.
  bin.count += bin.count != kMaxCount ? 1 : 0;
  bin.positives += (outcome && bin.positives != kMaxCount) ? 1 : 0;
  bin.sum_predicted += predicted;
  bin.sum_squared_predicted += predicted * predicted;
  const double error = predicted - (outcome ? 1.0 : 0.0);
  sum_squared_error_ += error * error;
  const double clipped =
      std::clamp(predicted, kLogLossEpsilon, 1 - kLogLossEpsilon);
  // 1 - clipped is exact for clipped >= 0.5 (Sterbenz) and within one
  // rounding below, so one log serves both outcomes.
  sum_log_loss_ -= std::log(outcome ? clipped : 1 - clipped);
}

absl::Status CalibrationMonitor::Merge(const CalibrationMonitor& other) {
  if (options_.num_bins != other.options_.num_bins) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge calibration monitors with ", options_.num_bins, " and ",
        other.options_.num_bins, " bins"));
  }
  // Element by element, so merging a monitor into itself doubles it.
  for (size_t i = 0; i < bins_.size(); ++i) {
    Bin& to = bins_[i];
    const Bin& from = other.bins_[i];
    to.count = SaturatingAdd(to.count, from.count);
    to.positives = SaturatingAdd(to.positives, from.positives);
    to.sum_predicted += from.sum_predicted;
    to.sum_squared_predicted += from.sum_squared_predicted;
  }
  ignored_ = SaturatingAdd(ignored_, other.ignored_);
  sum_squared_error_ += other.sum_squared_error_;
  sum_log_loss_ += other.sum_log_loss_;
  return absl::OkStatus();
}

CalibrationMetrics CalibrationMonitor::Snapshot() const {
  CalibrationMetrics metrics;
  metrics.ignored = ignored_;
  metrics.bins.reserve(bins_.size());
  for (size_t i = 0; i < bins_.size(); ++i) {
    const Bin& b = bins_[i];
    CalibrationBin& out = metrics.bins.emplace_back();
    out.lower = Edge(static_cast<int>(i));
    out.upper = Edge(static_cast<int>(i) + 1);
    out.count = b.count;
    out.positives = b.positives;
    metrics.count = SaturatingAdd(metrics.count, b.count);
    metrics.positives = SaturatingAdd(metrics.positives, b.positives);
    if (b.count == 0) continue;
    const double n = ToDouble(b.count);
    out.mean_predicted = b.sum_predicted / n;
    out.observed_frequency = ToDouble(b.positives) / n;
    out.observed_interval = WilsonInterval(b.positives, b.count, 0.95);
  }
  if (metrics.count == 0) return metrics;

  const double total = ToDouble(metrics.count);
  double gap_sum = 0;  // sum_b n_b |o_b - pbar_b| = sum_b |S_b - sum p|.
  double mce = 0;
  NullEce null;
  double variance = 0;
  double third = 0;
  for (size_t i = 0; i < bins_.size(); ++i) {
    const Bin& b = bins_[i];
    if (b.count == 0) continue;
    const double gap = std::abs(ToDouble(b.positives) - b.sum_predicted);
    gap_sum += gap;
    mce = std::max(mce, gap / ToDouble(b.count));
    const TermCumulants term =
        NullTerm(b.count, b.sum_predicted, b.sum_squared_predicted, total);
    null.mean += term.mean;
    variance += term.variance;
    third += term.third;
  }
  metrics.ece = gap_sum / total;
  metrics.mce = mce;
  metrics.brier = sum_squared_error_ / total;
  metrics.log_loss = sum_log_loss_ / total;
  null.stddev = std::sqrt(variance);
  null.skewness = variance > 0 ? third / (variance * null.stddev) : 0;
  null.p95 = null.Quantile(0.95);
  null.p99 = null.Quantile(0.99);
  metrics.null_ece = null;
  return metrics;
}

void CalibrationMonitor::ToProto(state::v1::CalibrationState* state) const {
  state->Clear();
  state->set_version(kStateVersion);
  state->set_num_bins(static_cast<uint32_t>(options_.num_bins));
  state->mutable_bins()->Reserve(options_.num_bins);
  for (const Bin& b : bins_) {
    state::v1::CalibrationBinState* out = state->add_bins();
    out->set_count(b.count);
    out->set_positives(b.positives);
    out->set_sum_predicted(b.sum_predicted);
    out->set_sum_squared_predicted(b.sum_squared_predicted);
  }
  state->set_ignored(ignored_);
  state->set_sum_squared_error(sum_squared_error_);
  state->set_sum_log_loss(sum_log_loss_);
}

std::string CalibrationMonitor::Serialize() const {
  state::v1::CalibrationState state;
  ToProto(&state);
  return state.SerializeAsString();
}

absl::StatusOr<CalibrationMonitor> CalibrationMonitor::Deserialize(
    absl::string_view bytes) {
  state::v1::CalibrationState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "calibration state is not a valid CalibrationState");
  }
  return FromProto(state);
}

absl::StatusOr<CalibrationMonitor> CalibrationMonitor::FromProto(
    const state::v1::CalibrationState& state) {
  if (state.version() != kStateVersion) {
    return absl::DataLossError(absl::StrCat("calibration state has version ",
                                            state.version(), ", expected ",
                                            kStateVersion));
  }
  // Checked as uint32 first: a huge value must not wrap into range as int.
  if (state.num_bins() < static_cast<uint32_t>(kMinBins) ||
      state.num_bins() > static_cast<uint32_t>(kMaxBins)) {
    return absl::DataLossError(
        absl::StrCat("calibration state has ", state.num_bins(), " bins"));
  }
  Options options;
  options.num_bins = static_cast<int>(state.num_bins());
  if (state.bins_size() != options.num_bins) {
    return absl::DataLossError(
        absl::StrCat("calibration state lists ", state.bins_size(),
                     " bins, num_bins is ", options.num_bins));
  }
  CalibrationMonitor monitor(options);
  uint64_t count = 0;
  for (int i = 0; i < options.num_bins; ++i) {
    const state::v1::CalibrationBinState& b = state.bins(i);
    const double n = ToDouble(b.count());
    const double slack = Slack(n);
    const double sum = b.sum_predicted();
    const double squares = b.sum_squared_predicted();
    if (b.positives() > b.count() || !std::isfinite(sum) ||
        !std::isfinite(squares) || sum < 0 || squares < 0 || squares > sum ||
        sum < monitor.Edge(i) * n - slack ||
        sum > monitor.Edge(i + 1) * n + slack) {
      return absl::DataLossError(
          absl::StrCat("calibration state: bin ", i, " is inconsistent (count ",
                       b.count(), ", positives ", b.positives(), ", sum of p ",
                       sum, ", sum of p^2 ", squares, ")"));
    }
    count = SaturatingAdd(count, b.count());
    monitor.bins_[static_cast<size_t>(i)] = {b.count(), b.positives(), sum,
                                             squares};
  }
  // (p - y)^2 <= 1 and the clipped log loss is at most -log(1e-15), about
  // 34.54, per observation.
  const double n = ToDouble(count);
  if (!std::isfinite(state.sum_squared_error()) ||
      state.sum_squared_error() < 0 ||
      state.sum_squared_error() > n + Slack(n) ||
      !std::isfinite(state.sum_log_loss()) || state.sum_log_loss() < 0 ||
      state.sum_log_loss() > 35 * (n + Slack(n))) {
    return absl::DataLossError(absl::StrCat(
        "calibration state: sums of squared error ", state.sum_squared_error(),
        " and log loss ", state.sum_log_loss(), " are out of range for ", count,
        " observations"));
  }
  monitor.ignored_ = state.ignored();
  monitor.sum_squared_error_ = state.sum_squared_error();
  monitor.sum_log_loss_ = state.sum_log_loss();
  return monitor;
}

}  // namespace vigie::monitors
