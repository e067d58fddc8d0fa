#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::state::v1 {
class AdwinState;
class PageHinkleyState;
class DriftDetectionMethodState;
class ErrorStreamDetectorsState;
}  // namespace vigie::state::v1

// Sequential change detectors for a model's stream of per-event errors
// (concept drift): ADWIN, Page-Hinkley and DDM, and ErrorStreamDetectors,
// the three together as the service keeps them per model.
//
// Each detector is a copyable value: Create(options) validates the options,
// Add observes one value, ToProto/FromProto persist it. All are
// deterministic: the same options and inputs give bit-identical states, and
// a state read back continues exactly as the original would have, which is
// what replaying the log after a crash relies on. (Across builds, only
// ADWIN's std::log may differ in its last bit between C libraries, which
// could flip a cut decision on a knife edge.) Observations are values
// of magnitude at most kMaxDetectorValue (1e100), so that no sum can overflow;
// the others (NaN, infinities, larger) are ignored and counted. Detectors do
// not merge: a change point belongs to one ordered stream.
// Thread-compatible: const methods may run concurrently; others need a
// single owner.

namespace vigie::monitors {

// Largest magnitude of a value the detectors observe.
inline constexpr double kMaxDetectorValue = 1e100;

// ADWIN, adaptive windowing (Bifet & Gavaldà, SDM 2007): the ADWIN2
// variant, whose window W of the most recent observations is kept as an
// exponential histogram: row i holds buckets of 2^i consecutive
// observations (their sum, and their sum of squared deviations from their
// mean), at most M = max_buckets_per_row per row, the two oldest of a full
// row merging into one bucket of the next. W shrinks from its old end when
// its two parts' means differ significantly; it grows otherwise.
//
// Cut condition. Every `clock` additions, each split of W at a bucket
// boundary into W0 (the n0 oldest observations) and W1 (the n1 newest),
// with n0, n1 >= min_window, is tested. With n = n0 + n1 = |W|, sigma^2_W
// the (population) variance of W, and
//   m      = 1 / (1/n0 + 1/n1)       (the paper's "harmonic mean"; half of
//                                     the usual harmonic mean of n0, n1)
//   delta' = delta / ln(n)
//   eps    = sqrt(2/m * sigma^2_W * ln(2/delta')) + 2/(3m) * ln(2/delta'),
// a split cuts when |mean(W0) - mean(W1)| > eps. On a cut the oldest
// bucket is dropped and the splits are tested again, until none cuts; the
// addition then returns true (one detection, however many buckets went).
//
// Guarantees (the paper's Theorem 3.1, for values in [0, 1]):
//  - False positives: while the mean does not change, a test shrinks W
//    with probability at most about delta. The theorem is proved for a
//    Hoeffding bound with delta' = delta / n; eps above is the paper's
//    variance-based (Bernstein-like) bound, with its practical
//    delta' = delta / ln(n) and the O(M log n) splits at bucket boundaries,
//    so the bound is approximate. In practice it is conservative: no false
//    detection in 20 stationary streams of 100,000 Bernoulli(0.05, 0.2 or
//    0.5) errors with the defaults; change_detectors_test.cc checks that
//    they stay below delta per test.
//  - Detection: if the true means of some W0 and W1 differ by more than
//    2 eps, W is cut (to W1 or shorter) with probability at least
//    1 - delta. After a jump of the mean by Delta, k observations later,
//    the split nearest the jump has at least k (M - 2) / (M - 1) of them
//    on its newer side (rows below the jump's bucket hold M - 1 buckets
//    or more), so a cut follows within a clock once eps for those sizes is
//    below Delta less the sampling noise. The test computes that bound:
//    with the defaults, after 5,000 errors at rate 0.1 then 0.3, 489
//    errors (seen: 88 to 120); 0.2 then 0.5, 307 (seen: 56 to 120). A
//    first cut may keep much of the old data (once an old bucket goes, the
//    rest can fall back under eps); the following tests cut on, and the
//    old data left is a residue too small to tell apart.
// Values outside [0, 1] are allowed (absolute errors of a regression), but
// the second term of eps assumes a range of 1: for larger ranges the
// false-positive bound loosens (scale the values to keep it).
//
// Costs. Add: amortised O(M) (the merges), plus, every `clock` additions,
// O(B) for the test with B <= M (log2(n / M) + 2) buckets (no division or
// square root per split), and O(B^2) on the rare additions that cut.
// Memory: 16 bytes per bucket and a vector per row: about 3 kB for M = 5
// and a million observations (76 buckets in 20 rows). Copy and proto:
// O(B).
class Adwin {
 public:
  static constexpr int kMaxBucketsPerRow = 1024;
  static constexpr int kMaxClock = 1 << 20;
  static constexpr int kMaxMinWindow = 1 << 20;
  static constexpr uint64_t kMaxWidth = uint64_t{1} << 62;

  struct Options {
    // Confidence of the cut test. Default: 0.002. Range: (0, 1).
    double delta = 0.002;
    // M, buckets per row of the histogram; splits are tested only at bucket
    // boundaries, so a larger M places cuts more precisely at a higher
    // cost. Default: 5. Range: [2, 1024].
    int max_buckets_per_row = 5;
    // Splits are tested after every `clock`-th valid addition (counting
    // from the first ever). Default: 32. Range: [1, 2^20].
    int clock = 32;
    // Fewest observations on each side of a tested split. For values in
    // [0, 1] a side of fewer than 2/3 ln(2/delta') observations (about 6
    // for the defaults) can never cut, its eps being above 1, so the
    // default mostly saves work; for wider ranges it keeps a few outliers
    // from cutting. Default: 5. Range: [1, 2^20].
    int min_window = 5;
    // Cap on the width: after an addition, oldest buckets are dropped
    // (without counting a detection) while the width exceeds it; the width
    // then is at most max_width, and more than max_width minus the oldest
    // bucket's size. 0: no cap but kMaxWidth. Default: 0. Range: 0, or
    // [2 min_window, 2^62].
    uint64_t max_width = 0;

    bool operator==(const Options&) const = default;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<Adwin> Create(const Options& options);

  // Adds `x` as the newest observation; true if it led to a cut (the
  // window's older part was dropped). A NaN, infinite or larger than
  // kMaxDetectorValue in magnitude `x` is ignored (counted in ignored())
  // and returns false.
  bool Add(double x);

  uint64_t width() const { return width_; }  // |W|.
  // Mean and population variance of W; empty while W is empty.
  std::optional<double> mean() const;
  std::optional<double> variance() const;
  uint64_t detections() const { return detections_; }
  uint64_t observed() const { return observed_; }  // Valid additions.
  uint64_t ignored() const { return ignored_; }
  int num_buckets() const;
  const Options& options() const { return options_; }

  void ToProto(state::v1::AdwinState* state) const;
  // kDataLoss if `state` is invalid: options out of range, a histogram
  // whose shape or counts do not match the width, sums not finite or not
  // matching the buckets.
  static absl::StatusOr<Adwin> FromProto(const state::v1::AdwinState& state);

 private:
  struct Bucket {
    double total = 0;
    double variance_sum = 0;  // Squared deviations from the bucket's mean.
  };
  using Row = std::vector<Bucket>;  // Oldest first.

  explicit Adwin(const Options& options) : options_(options) {}
  void Compress();
  void DropOldestBucket();
  // total_ and variance_sum_ from the buckets.
  void RecomputeSums();
  // Whether some split of W cuts.
  bool SomeSplitCuts() const;

  Options options_;
  std::vector<Row> rows_;  // rows_[i]: buckets of 2^i; no empty last row.
  uint64_t width_ = 0;
  double total_ = 0;
  double variance_sum_ = 0;
  uint64_t observed_ = 0;
  uint64_t ignored_ = 0;
  uint64_t detections_ = 0;
  int ticks_ = 0;  // observed_ % clock.
};

// Page-Hinkley test (Page, Biometrika 1954; Hinkley 1971; in the form of
// Gama et al.'s "Learning with drift detection" survey), with forgetting.
// Since the last reset, with xbar_t the mean of the observations so far
// (x_t included), and U_0 = L_0 = 0:
//   U_t = alpha U_{t-1} + (x_t - xbar_t - delta),  PH+_t = U_t - min(U_0..U_t)
//   L_t = alpha L_{t-1} + (x_t - xbar_t + delta),  PH-_t = max(L_0..L_t) - L_t
// A watched direction detects when at least min_instances observations
// were seen since the reset and its PH exceeds `threshold` (lambda). A
// detection resets everything above (the next observation starts afresh).
//
// Delay. With alpha = 1, after N observations at mean mu, the k-th at mean
// mu + Delta adds about Delta N / (N + k) - delta to U: detection after
// about lambda / (Delta - delta) observations when k << N (127 for
// Delta = 0.4 and the defaults), give or take the noise, which
// change_detectors_test.cc bounds.
// False alarms. With alpha = 1 and a stationary stream of standard
// deviation sigma, PH+ is a random walk with drift -delta reflected at 0;
// Siegmund's approximation of the mean run length to a false alarm is
// (sigma^2 / (2 delta^2)) (e^b - 1 - b), b = 2 delta lambda / sigma^2:
// about 60,000 observations for the defaults and Bernoulli(0.2) errors
// (measured: 74,000). alpha < 1 makes U mean-reverting (standard deviation
// about sigma / sqrt(1 - alpha^2)) while its minimum is never forgotten,
// which raises the rate: measured with the default alpha, 4.0 false alarms
// per 100,000 Bernoulli(0.2) errors (1.35 with alpha = 1), 6.7 for
// Bernoulli(0.5). The thresholds are in the values' units: tune them to
// the error's scale.
//
// O(1) per addition, 112 bytes.
class PageHinkley {
 public:
  enum class Direction { kIncrease, kDecrease, kBoth };
  static constexpr uint64_t kMaxMinInstances = uint64_t{1} << 40;

  struct Options {
    // Observations needed since the reset before a detection. Default: 30.
    // Range: [1, 2^40].
    uint64_t min_instances = 30;
    // delta, the magnitude of change tolerated, in the values' units.
    // Default: 0.005. Range: [0, 1e100].
    double delta = 0.005;
    // lambda, the detection threshold, in the values' units. Default: 50.
    // Range: (0, 1e100].
    double threshold = 50;
    // Forgetting factor of the cumulative sums. Default: 0.9999. Range:
    // (0, 1].
    double alpha = 0.9999;
    // Default: increases only (errors going up).
    Direction direction = Direction::kIncrease;

    bool operator==(const Options&) const = default;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<PageHinkley> Create(const Options& options);

  // O(1). True if `x` led to a detection (the state is then reset). Values
  // that are not finite or exceed kMaxDetectorValue in magnitude are
  // ignored (counted in ignored()) and return false.
  bool Add(double x);

  // max(PH+, PH-) over the watched directions; 0 right after a reset.
  double statistic() const;
  double sum_increase() const { return sum_increase_; }  // U_t.
  double min_increase() const { return min_increase_; }
  double sum_decrease() const { return sum_decrease_; }  // L_t.
  double max_decrease() const { return max_decrease_; }
  // Observations since the reset, and their mean (empty if none).
  uint64_t instances() const { return instances_; }
  std::optional<double> mean() const;
  uint64_t detections() const { return detections_; }
  uint64_t observed() const { return observed_; }
  uint64_t ignored() const { return ignored_; }
  const Options& options() const { return options_; }

  void ToProto(state::v1::PageHinkleyState* state) const;
  // kDataLoss if `state` is invalid (options out of range, counts or sums
  // inconsistent).
  static absl::StatusOr<PageHinkley> FromProto(
      const state::v1::PageHinkleyState& state);

 private:
  explicit PageHinkley(const Options& options) : options_(options) {}
  void Reset();

  Options options_;
  uint64_t instances_ = 0;
  double mean_ = 0;
  double sum_increase_ = 0;
  double min_increase_ = 0;
  double sum_decrease_ = 0;
  double max_decrease_ = 0;
  uint64_t observed_ = 0;
  uint64_t ignored_ = 0;
  uint64_t detections_ = 0;
};

enum class DdmState { kInControl, kWarning, kDrift };

// DDM, the Drift Detection Method (Gama, Medas, Castillo & Rodrigues, SBIA
// 2004), on a stream of 0/1 errors. Since the last reset, after i
// observations with e errors:
//   p_i = e / i,  s_i = sqrt(p_i (1 - p_i) / i),
// and (p_min, s_min) are (p_i, s_i) where p_i + s_i was lowest, updated
// (strictly lower) from i >= min_instances on. The answer to observation i:
//   kDrift     if p_i + s_i >= p_min + drift_level * s_min,
//   kWarning   else if p_i + s_i >= p_min + warning_level * s_min,
//   kInControl otherwise, and always while i < min_instances.
// A drift resets the counts and the minimum: the next observation is the
// first of a new context.
//
// One departure from the paper: (p_min, s_min) are taken only from points
// with 0 < p_i < 1, so s_min > 0. The paper also takes p_min = s_min = 0
// from an error-free start, after which the first error reads as a drift:
// for a model whose error rate is well below 1 / min_instances, nearly
// every error would be a drift.
//
// False alarms, measured with the defaults over 20 streams of 100,000
// errors: 0.6 per 100,000 for an error rate of 0.2, 2.25 for 0.05 (p + s
// is noisier relative to itself at low rates).
//
// O(1) per addition (one square root), 96 bytes.
class Ddm {
 public:
  static constexpr uint64_t kMaxMinInstances = uint64_t{1} << 40;
  static constexpr double kMaxLevel = 1000;

  struct Options {
    // Observations since the reset before any warning or drift, and before
    // the minimum is tracked. Default: 30. Range: [1, 2^40].
    uint64_t min_instances = 30;
    // Multiples of s_min above p_min for a warning and a drift; the
    // paper's 2 and 3 by default (its 95% and 99% confidence levels). At
    // most 1, every new minimum would warn. Range:
    // 1 < warning_level <= drift_level <= 1000.
    double warning_level = 2.0;
    double drift_level = 3.0;

    bool operator==(const Options&) const = default;
  };

  // kInvalidArgument if `options` is out of range.
  static absl::StatusOr<Ddm> Create(const Options& options);

  // O(1). The state after observing `error` (true: the model was wrong).
  DdmState Add(bool error);

  DdmState state() const { return state_; }  // kInControl before any Add.
  // Observations and errors since the last reset.
  uint64_t instances() const { return instances_; }
  uint64_t errors() const { return errors_; }
  // p_i and s_i; empty while instances() is 0.
  std::optional<double> error_rate() const;
  std::optional<double> error_rate_stddev() const;
  // p_min and s_min; empty until set since the reset.
  std::optional<double> p_min() const;
  std::optional<double> s_min() const;
  uint64_t detections() const { return detections_; }  // Drifts.
  uint64_t warnings() const { return warnings_; }      // kWarning answers.
  uint64_t observed() const { return observed_; }
  const Options& options() const { return options_; }

  void ToProto(state::v1::DriftDetectionMethodState* state) const;
  // kDataLoss if `state` is invalid (options out of range, counts or
  // minimum inconsistent).
  static absl::StatusOr<Ddm> FromProto(
      const state::v1::DriftDetectionMethodState& state);

 private:
  explicit Ddm(const Options& options) : options_(options) {}

  Options options_;
  uint64_t instances_ = 0;
  uint64_t errors_ = 0;
  bool has_minimum_ = false;
  double p_min_ = 0;
  double s_min_ = 0;
  DdmState state_ = DdmState::kInControl;
  uint64_t observed_ = 0;
  uint64_t detections_ = 0;
  uint64_t warnings_ = 0;
};

// One detector's record in an ErrorStreamSnapshot.
struct DetectorRecord {
  uint64_t detections = 0;
  // Index (1-based, counting valid errors) of the observation that last
  // triggered the detector; empty if none has.
  std::optional<uint64_t> last_detection;
  // Whether the latest valid observation triggered it.
  bool triggered_by_latest = false;
};

struct ErrorStreamSnapshot {
  uint64_t observed = 0;  // Valid errors observed.
  uint64_t ignored = 0;   // NaN, negative or above kMaxDetectorValue.
  DetectorRecord adwin;
  uint64_t adwin_width = 0;
  std::optional<double> adwin_mean;  // Empty while the window is empty.
  DetectorRecord page_hinkley;
  DetectorRecord ddm;
  // Whether DDM is still fed (every error so far was 0 or 1), and its last
  // answer (kInControl before any).
  bool ddm_active = true;
  DdmState ddm_state = DdmState::kInControl;
};

// What one ADWIN addition that detected a change cut: W0, the oldest
// observations it dropped (however many buckets went), and W1, the window
// it kept, the new observation included.
struct AdwinCut {
  uint64_t dropped = 0;
  uint64_t kept = 0;
  double mean_before = 0;  // Mean of W0.
  double mean_after = 0;   // Mean of W1.
};

// The change detectors the service keeps per model, on its stream of
// per-event errors: classification, the 0/1 misclassification; regression,
// the absolute error (any finite value >= 0, up to kMaxDetectorValue).
// Every valid error goes to ADWIN and Page-Hinkley; DDM, which needs 0/1
// errors, is fed only while every error so far was 0 or 1 (the first other
// value stops it for good: its state then stays as it was). A NaN,
// negative or too large error is ignored and counted.
//
//   auto detectors = *ErrorStreamDetectors::Create();
//   detectors.Observe(prediction_was_wrong ? 1 : 0);
//   if (detectors.Snapshot().adwin.triggered_by_latest) ...
//
// O(1) amortised per Observe (ADWIN's periodic test aside, see Adwin);
// about 3.5 kB in memory and 1.5 kB serialized after a million errors.
// Deterministic; thread-compatible.
class ErrorStreamDetectors {
 public:
  struct Options {
    Adwin::Options adwin;
    PageHinkley::Options page_hinkley;
    Ddm::Options ddm;

    bool operator==(const Options&) const = default;
  };

  // kInvalidArgument if some detector's options are out of range.
  static absl::StatusOr<ErrorStreamDetectors> Create(const Options& options);
  static absl::StatusOr<ErrorStreamDetectors> Create();  // Default options.

  // Observes `error`; when ADWIN detected a change with it, what ADWIN cut
  // (from its window's width and mean before and after: no extra state).
  std::optional<AdwinCut> Observe(double error);

  uint64_t observed() const { return observed_; }
  uint64_t ignored() const { return ignored_; }
  ErrorStreamSnapshot Snapshot() const;
  const Adwin& adwin() const { return adwin_; }
  const PageHinkley& page_hinkley() const { return page_hinkley_; }
  const Ddm& ddm() const { return ddm_; }
  const Options& options() const { return options_; }

  std::string Serialize() const;  // A vigie.state.v1.ErrorStreamDetectorsState.
  void ToProto(state::v1::ErrorStreamDetectorsState* state) const;
  // kDataLoss for bytes that are not a valid state (truncated, garbage,
  // another version, a detector's state invalid or inconsistent with the
  // counts), or whose stored options differ from `options`.
  static absl::StatusOr<ErrorStreamDetectors> Deserialize(
      absl::string_view bytes, const Options& options);
  static absl::StatusOr<ErrorStreamDetectors> FromProto(
      const state::v1::ErrorStreamDetectorsState& state,
      const Options& options);

 private:
  ErrorStreamDetectors(const Options& options, Adwin adwin,
                       PageHinkley page_hinkley, Ddm ddm);
  DetectorRecord Record(uint64_t detections, uint64_t last) const;

  Options options_;
  Adwin adwin_;
  PageHinkley page_hinkley_;
  Ddm ddm_;
  uint64_t observed_ = 0;
  uint64_t ignored_ = 0;
  bool all_binary_ = true;
  uint64_t adwin_last_ = 0;  // 0: none.
  uint64_t page_hinkley_last_ = 0;
  uint64_t ddm_last_ = 0;
};

}  // namespace vigie::monitors
