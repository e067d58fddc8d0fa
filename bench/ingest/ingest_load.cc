#include "bench/ingest/ingest_load.h"

#include <functional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "tools/simulator.h"

namespace vigie::bench {
namespace {

const std::string& PredictionId(const v1::Event& event) {
  return event.has_prediction() ? event.prediction().prediction_id()
                                : event.outcome().prediction_id();
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
