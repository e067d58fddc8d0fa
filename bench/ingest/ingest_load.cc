#include "bench/ingest/ingest_load.h"

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

// Salts of the draws, so that the outcome and the segment of a prediction
// are independent.
constexpr uint64_t kOutcomeSalt = 1;
constexpr uint64_t kSegmentSalt = 2;

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
  if (!(outcome_share >= 0 && outcome_share <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome_share must be in [0, 1], got ", outcome_share));
  }
  if (groups < 0 || groups > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("groups must be in [0, 100000], got ", groups));
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
  ASSIGN_OR_RETURN(std::unique_ptr<tools::Simulator> simulator,
                   tools::Simulator::Create(sim));
  tools::EventRecord record;
  while (simulator->Next(&record)) {
    for (v1::Event& event : record.events) {
      const std::string& id = PredictionId(event);
      // Draw < 1 always, so a share of 1 keeps every outcome.
      if (event.has_outcome() &&
          Draw(options.seed, kOutcomeSalt, id) >= options.outcome_share) {
        continue;
      }
      if (event.has_prediction() && options.groups > 0) {
        const auto segment = static_cast<int>(
            Draw(options.seed, kSegmentSalt, id) * options.groups);
        (*event.mutable_prediction()->mutable_groups())["segment"] =
            absl::StrFormat("s%04d", segment);
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

}  // namespace vigie::bench
