#include "bench/ingest/ingest_load.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "tools/simulator.h"

namespace vigie::bench {
namespace {

const std::string& PredictionId(const v1::Event& event) {
  return event.has_prediction() ? event.prediction().prediction_id()
                                : event.outcome().prediction_id();
}

// Salts of the draws, so that the outcome, the segments, the features and
// the classes of a prediction are independent: segment attribute a uses
// kSegmentSalt + a (a = 0 keeps the salt of the earlier single "segment";
// a < 16), feature j uses kFeatureSalt + j (j < 100).
constexpr uint64_t kOutcomeSalt = 1;
constexpr uint64_t kSegmentSalt = 2;
constexpr uint64_t kFeatureSalt = 1'000;
// Multiclass: the true class, whether the model favours it, the favoured
// wrong class, and the favoured class's probability.
constexpr uint64_t kClassSalt = 500;
constexpr uint64_t kRightSalt = 501;
constexpr uint64_t kWrongSalt = 502;
constexpr uint64_t kConfidenceSalt = 503;
// The multiclass model favours the true class this often.
constexpr double kMulticlassAccuracy = 0.7;
// Of the conformal prediction sets.
constexpr double kConformalAlpha = 0.1;
constexpr uint64_t kCalibrationSize = 1'000;
// Mixed into the seed of the reference sample, so that its prediction ids
// and draws differ from the stream's.
constexpr uint64_t kReferenceSeedSalt = 0x5eed'0000'0000'0001ULL;

// SplitMix64's finalizer: spreads every input bit over the output.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform draw in [0, 1) that depends only on `seed`, `salt` and the
// prediction id: an outcome, which comes outcome_lag predictions later,
// finds its prediction's draw again without anything remembered, and a
// seed always gives the same stream. FNV-1a over the id's bytes, then Mix.
double Draw(uint64_t seed, uint64_t salt, std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Mix(seed + Mix(salt));
  for (const char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<double>(Mix(h) >> 11) * 0x1.0p-53;
}

// "segment", "segment2", ...: the first keeps the name of the earlier
// single attribute, so that old commands give the same stream.
std::string SegmentAttribute(int a) {
  return a == 0 ? std::string("segment") : absl::StrCat("segment", a + 1);
}

// "f00", "f01", ...: fixed width, so that names sort in feature order.
std::string FeatureName(int j) { return absl::StrFormat("f%02d", j); }

// j + logit(u): a logistic distribution centred on j. Its tails make the
// reference's quantile bins unequal, as real features' are.
double FeatureValue(uint64_t seed, int j, std::string_view id) {
  // Draw is in [0, 1), and may be 0: nudge it inside (0, 1).
  const double u =
      Draw(seed, kFeatureSalt + static_cast<uint64_t>(j), id) + 0x1.0p-54;
  return j + std::log(u / (1 - u));
}

std::string ClassLabel(int c) { return absl::StrCat("c", c); }

// The true class of a prediction, drawn so that its outcome, which comes
// later, finds it again.
int TrueClass(const IngestLoadOptions& options, std::string_view id) {
  return static_cast<int>(Draw(options.seed, kClassSalt, id) * options.classes);
}

// Replaces the binary output with a multiclass one: the model favours the
// true class with probability kMulticlassAccuracy, else a wrong one, and
// gives it a probability in [0.5, 0.99); the next class (cyclically) gets
// three quarters of the rest, the others share the last quarter. Its
// conformal set takes classes by decreasing probability until they hold
// 1 - alpha (the adaptive prediction sets of Romano et al., 2020, without
// randomization): one, two or every class, and the truth falls outside it
// more often than alpha says, as with a predictor that has drifted, so
// coverage monitors have something to find.
void MakeMulticlass(const IngestLoadOptions& options,
                    v1::Prediction& prediction) {
  const std::string& id = prediction.prediction_id();
  const int k = options.classes;
  const int truth = TrueClass(options, id);
  int favoured = truth;
  if (Draw(options.seed, kRightSalt, id) >= kMulticlassAccuracy) {
    const int shift =
        1 + static_cast<int>(Draw(options.seed, kWrongSalt, id) * (k - 1));
    favoured = (truth + shift) % k;
  }
  const int second = (favoured + 1) % k;
  const double top = 0.5 + 0.49 * Draw(options.seed, kConfidenceSalt, id);
  const double rest = 1 - top;
  const double second_probability = k == 2 ? rest : 0.75 * rest;
  const double other_probability = k == 2 ? 0 : 0.25 * rest / (k - 2);
  const auto probability = [&](int c) {
    return c == favoured
               ? top
               : (c == second ? second_probability : other_probability);
  };
  v1::MulticlassPrediction& output = *prediction.mutable_multiclass();
  for (int c = 0; c < k; ++c) {
    v1::ClassProbability& p = *output.add_probabilities();
    p.set_label(ClassLabel(c));
    p.set_probability(probability(c));
  }
  output.set_predicted_class(ClassLabel(favoured));
  // By decreasing probability: the favoured class, the next, then the
  // others, equally probable, in class order.
  std::vector<int> order = {favoured};
  if (k > 1) order.push_back(second);
  for (int c = 0; c < k; ++c) {
    if (c != favoured && c != second) order.push_back(c);
  }
  double held = 0;
  for (const int c : order) {
    if (held >= 1 - kConformalAlpha) break;
    output.add_prediction_set_labels(ClassLabel(c));
    held += probability(c);
  }
  output.set_alpha(kConformalAlpha);
  output.set_calibration_size(kCalibrationSize);
}

void Shape(const IngestLoadOptions& options, v1::Prediction& prediction) {
  const std::string& id = prediction.prediction_id();
  auto& groups = *prediction.mutable_groups();
  if (!options.simulator_groups) groups.clear();
  if (options.groups > 0) {
    for (int a = 0; a < options.group_attributes; ++a) {
      const auto segment = static_cast<int>(
          Draw(options.seed, kSegmentSalt + static_cast<uint64_t>(a), id) *
          options.groups);
      groups[SegmentAttribute(a)] = absl::StrFormat("s%04d", segment);
    }
  }
  if (options.task == IngestLoadOptions::Task::kMulticlass) {
    MakeMulticlass(options, prediction);
  }
  auto& features = *prediction.mutable_features();
  for (int j = 0; j < options.features; ++j) {
    features[FeatureName(j)].set_numeric(FeatureValue(options.seed, j, id));
  }
}

void SetModelId(const std::string& model_id, v1::Event* event) {
  if (event->has_prediction()) {
    event->mutable_prediction()->set_model_id(model_id);
  } else {
    event->mutable_outcome()->set_model_id(model_id);
  }
}

}  // namespace

absl::Status IngestLoadOptions::Validate() const {
  if (predictions < 1 || predictions > 1'000'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("predictions must be in [1, 1e9], got ", predictions));
  }
  if (connections < 1 || connections > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("connections must be in [1, 64], got ", connections));
  }
  if (batch_size < 1 || batch_size > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be in [1, 100000], got ", batch_size));
  }
  // Written so that NaN fails too.
  if (!(outcome_rate >= 0 && outcome_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome_rate must be in [0, 1], got ", outcome_rate));
  }
  if (groups < 0 || groups > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("groups must be in [0, 100000], got ", groups));
  }
  if (group_attributes < 1 || group_attributes > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group_attributes must be in [1, 16], got ", group_attributes));
  }
  if (features < 0 || features > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("features must be in [0, 100], got ", features));
  }
  if (reference_predictions < 0 || reference_predictions > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference_predictions must be in [0, 1000000], got ",
                     reference_predictions));
  }
  if (task == Task::kMulticlass && (classes < 2 || classes > 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("classes must be in [2, 100], got ", classes));
  }
  if (spacing < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("spacing must be >= 0");
  }
  if (model_id.empty()) return absl::InvalidArgumentError("empty model_id");
  return absl::OkStatus();
}

absl::Status ForEachEvent(const IngestLoadOptions& options,
                          absl::FunctionRef<void(v1::Event&)> visit) {
  RETURN_IF_ERROR(options.Validate());
  tools::SimulatorOptions sim;
  sim.seed = options.seed;
  sim.num_predictions = options.predictions;
  sim.spacing = options.spacing;
  ASSIGN_OR_RETURN(std::unique_ptr<tools::Simulator> simulator,
                   tools::Simulator::Create(sim));
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (v1::Event& event : record.events) {
      const std::string& id = PredictionId(event);
      // Draw < 1 always, so a share of 1 keeps every outcome.
      if (event.has_outcome() &&
          Draw(options.seed, kOutcomeSalt, id) >= options.outcome_rate) {
        continue;
      }
      if (event.has_prediction()) Shape(options, *event.mutable_prediction());
      if (event.has_outcome() &&
          options.task == IngestLoadOptions::Task::kMulticlass) {
        event.mutable_outcome()->set_class_label(
            ClassLabel(TrueClass(options, id)));
      }
      SetModelId(options.model_id, &event);
      visit(event);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestLoad> BuildIngestLoad(const IngestLoadOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  const auto connections = static_cast<size_t>(options.connections);
  IngestLoad load;
  load.connections.resize(connections);
  std::vector<v1::IngestRequest> open(connections);
  // libstdc++'s string hash is a fixed function of the bytes, so a seed
  // always gives the same split.
  const std::hash<std::string_view> hash;
  RETURN_IF_ERROR(ForEachEvent(options, [&](v1::Event& event) {
    const size_t c = hash(PredictionId(event)) % connections;
    if (event.has_prediction()) ++load.predictions;
    if (event.has_outcome()) ++load.outcomes;
    ++load.events;
    *open[c].add_events() = std::move(event);
    if (open[c].events_size() >= options.batch_size) {
      load.connections[c].push_back(std::move(open[c]));
      open[c] = v1::IngestRequest();
    }
  }));
  for (size_t c = 0; c < connections; ++c) {
    if (open[c].events_size() > 0) {
      load.connections[c].push_back(std::move(open[c]));
    }
  }
  return load;
}

absl::StatusOr<v1::UploadReferenceRequest> BuildReference(
    const IngestLoadOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  if (options.reference_predictions == 0) {
    return absl::FailedPreconditionError("no reference asked for");
  }
  IngestLoadOptions reference = options;
  reference.seed = Mix(options.seed ^ kReferenceSeedSalt);
  reference.predictions = options.reference_predictions;
  // A reference is a labelled sample: its label profile is drift's "@label".
  reference.outcome_rate = 1;
  v1::UploadReferenceRequest request;
  request.set_model_id(options.model_id);
  request.set_description(
      absl::StrCat("ingest_loadgen reference: ", ShapeSummary(reference)));
  RETURN_IF_ERROR(ForEachEvent(reference, [&](v1::Event& event) {
    *request.add_events() = std::move(event);
  }));
  return request;
}

std::string ShapeSummary(const IngestLoadOptions& options) {
  std::string groups =
      options.groups > 0
          ? absl::StrCat(
                options.groups, " groups x ", options.group_attributes,
                options.group_attributes == 1 ? " attribute" : " attributes")
          : std::string("no segments");
  if (options.simulator_groups) absl::StrAppend(&groups, " + sex, age_band");
  return absl::StrCat(
      groups, ", ", options.features, " features, outcome rate ",
      absl::StrFormat("%g", options.outcome_rate), ", reference of ",
      options.reference_predictions, ", ",
      options.task == IngestLoadOptions::Task::kMulticlass
          ? absl::StrCat(options.classes, " classes with conformal sets")
          : std::string("binary"),
      ", event time every ", absl::FormatDuration(options.spacing));
}

absl::string_view TaskName(IngestLoadOptions::Task task) {
  return task == IngestLoadOptions::Task::kMulticlass ? "multiclass" : "binary";
}

std::vector<std::string> ClassLabels(const IngestLoadOptions& options) {
  std::vector<std::string> labels;
  if (options.task != IngestLoadOptions::Task::kMulticlass) return labels;
  for (int c = 0; c < options.classes; ++c) labels.push_back(ClassLabel(c));
  return labels;
}

}  // namespace vigie::bench
