// Decoding events as services/ does, per event: an ingest request
// (vigie.v1.IngestRequest, what the gRPC Ingest call carries) parsed from
// protobuf's binary format; one Kafka message's vigie.v1.Event through
// services::DecodeEvent, in binary and in protobuf's JSON mapping (the two
// formats a topic may carry); a stored prediction's bytes through
// monitors::PredictionView::Decode (what a join reads); and the
// validation every accepted prediction goes through. Events of the shape
// of bench/fixtures/model_events.h: two group attributes and 20 features.
// Events/s and bytes/s of input; beside them, a copy of the same bytes, the
// floor of anything that reads them.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/fixtures/model_events.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"
#include "monitors/prediction_view.h"
#include "services/config.h"
#include "services/event_bytes.h"
#include "services/event_validation.h"
#include "services/kafka_decode.h"
#include "vigie/v1/events.pb.h"
#include "vigie/v1/vigie.pb.h"

namespace {

using vigie::services::DecodeEvent;
using vigie::services::PayloadFormat;

constexpr int kEvents = 4096;
constexpr int kRequestEvents = 1000;

// Each prediction as a Kafka message's Event: binary or JSON.
std::vector<std::string> EventMessages(PayloadFormat format) {
  std::vector<std::string> messages;
  for (const vigie::bench::LabeledPrediction& e :
       vigie::bench::MakeLabeledPredictions(kEvents, /*seed=*/1)) {
    vigie::v1::Event event;
    *event.mutable_prediction() = e.prediction;
    std::string& bytes = messages.emplace_back();
    if (format == PayloadFormat::kProtobuf) {
      bytes = event.SerializeAsString();
    } else if (!google::protobuf::util::MessageToJsonString(event, &bytes)
                    .ok()) {
      bytes.clear();
    }
  }
  return messages;
}

int64_t TotalBytes(const std::vector<std::string>& messages) {
  int64_t total = 0;
  for (const std::string& m : messages) total += static_cast<int64_t>(m.size());
  return total;
}

// One message at a time through DecodeEvent, cycling over 4,096 events.
void DecodeMessages(benchmark::State& state, PayloadFormat format) {
  const std::vector<std::string> messages = EventMessages(format);
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& message = messages[i++ % messages.size()];
    auto event = DecodeEvent(message, format);
    if (!event.ok()) {
      state.SkipWithError("an event did not decode");
      break;
    }
    benchmark::DoNotOptimize(event);
    bytes += static_cast<int64_t>(message.size());
  }
  state.SetItemsProcessed(state.iterations());  // Events.
  state.SetBytesProcessed(bytes);
  state.counters["bytes_per_event"] =
      static_cast<double>(TotalBytes(messages)) / kEvents;
}

void BM_DecodeEventProtobuf(benchmark::State& state) {
  DecodeMessages(state, PayloadFormat::kProtobuf);
}
BENCHMARK(BM_DecodeEventProtobuf);

void BM_DecodeEventJson(benchmark::State& state) {
  DecodeMessages(state, PayloadFormat::kJson);
}
BENCHMARK(BM_DecodeEventJson);

// A request of 1,000 predictions, parsed as the gRPC service parses each
// call's: whole into a fresh message (what it did before 2026-12-03), whole
// into an arena of the call's, or with services::ParseIngestRequest into an
// arena, which leaves the predictions' features out of the parse (the
// pipeline then reads them from the bytes: BM_DecodePredictionView).
enum class RequestParse { kWhole, kWholeOnArena, kWithoutFeatures };

void DecodeIngestRequest(benchmark::State& state, RequestParse how) {
  vigie::v1::IngestRequest request;
  for (const vigie::bench::LabeledPrediction& e :
       vigie::bench::MakeLabeledPredictions(kRequestEvents, /*seed=*/2)) {
    *request.add_events()->mutable_prediction() = e.prediction;
  }
  const std::string bytes = request.SerializeAsString();
  for (auto _ : state) {
    bool parsed = false;
    if (how == RequestParse::kWhole) {
      vigie::v1::IngestRequest message;
      parsed = message.ParseFromString(bytes);
      benchmark::DoNotOptimize(message);
    } else {
      google::protobuf::Arena arena;
      auto* message =
          google::protobuf::Arena::CreateMessage<vigie::v1::IngestRequest>(
              &arena);
      vigie::services::ArrivedEvents arrived;
      parsed =
          how == RequestParse::kWholeOnArena
              ? message->ParseFromString(bytes)
              : vigie::services::ParseIngestRequest(bytes, message, &arrived);
      benchmark::DoNotOptimize(message);
      benchmark::DoNotOptimize(arrived);
    }
    if (!parsed) {
      state.SkipWithError("the request did not parse");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kRequestEvents);  // Events.
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(bytes.size()));
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes.size()) / kRequestEvents;
}

void BM_DecodeIngestRequest(benchmark::State& state) {
  DecodeIngestRequest(state, RequestParse::kWhole);
}
BENCHMARK(BM_DecodeIngestRequest)->Unit(benchmark::kMicrosecond);

void BM_DecodeIngestRequestOnArena(benchmark::State& state) {
  DecodeIngestRequest(state, RequestParse::kWholeOnArena);
}
BENCHMARK(BM_DecodeIngestRequestOnArena)->Unit(benchmark::kMicrosecond);

void BM_DecodeIngestRequestWithoutFeatures(benchmark::State& state) {
  DecodeIngestRequest(state, RequestParse::kWithoutFeatures);
}
BENCHMARK(BM_DecodeIngestRequestWithoutFeatures)->Unit(benchmark::kMicrosecond);

// A prediction's bytes into the view the monitors read, without building
// the message (its maps): the pipeline's path for a joined prediction.
// Its features come in the order the client serialized them (a map's hash
// order), or sorted as the ingest log holds them (services::
// ParseIngestRequest).
void DecodePredictionView(benchmark::State& state, bool as_logged) {
  std::vector<std::string> predictions;
  for (const vigie::bench::LabeledPrediction& e :
       vigie::bench::MakeLabeledPredictions(kEvents, /*seed=*/1)) {
    std::string bytes = e.prediction.SerializeAsString();
    if (as_logged) {
      vigie::v1::Event event;
      *event.mutable_prediction() = e.prediction;
      vigie::v1::IngestRequest one;
      *one.add_events() = event;
      vigie::v1::IngestRequest parsed;
      vigie::services::ArrivedEvents arrived;
      if (!vigie::services::ParseIngestRequest(one.SerializeAsString(), &parsed,
                                               &arrived)) {
        state.SkipWithError("the request did not parse");
        return;
      }
      vigie::v1::Event copy;  // The event's bytes hold the prediction alone.
      if (!copy.ParseFromString(std::string(arrived.bytes[0]))) {
        state.SkipWithError("the event did not parse");
        return;
      }
      bytes = std::string(arrived.bytes[0].substr(
          arrived.bytes[0].size() - copy.prediction().ByteSizeLong()));
    }
    predictions.push_back(std::move(bytes));
  }
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& prediction = predictions[i++ % predictions.size()];
    benchmark::DoNotOptimize(
        vigie::monitors::PredictionView::Decode(prediction));
    bytes += static_cast<int64_t>(prediction.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_DecodePredictionView(benchmark::State& state) {
  DecodePredictionView(state, /*as_logged=*/false);
}
BENCHMARK(BM_DecodePredictionView);

void BM_DecodePredictionViewAsLogged(benchmark::State& state) {
  DecodePredictionView(state, /*as_logged=*/true);
}
BENCHMARK(BM_DecodePredictionViewAsLogged);

// The same view of a parsed prediction (PredictionView::Of): the
// pipeline's path for a prediction as it arrives, whose maps were parsed
// on the receiving thread.
void BM_PredictionViewOfParsed(benchmark::State& state) {
  std::vector<vigie::v1::Prediction> predictions;
  for (vigie::bench::LabeledPrediction& e :
       vigie::bench::MakeLabeledPredictions(kEvents, /*seed=*/1)) {
    // Parsed, as the server gets it: its maps in hash order.
    predictions.emplace_back().ParseFromString(
        e.prediction.SerializeAsString());
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(vigie::monitors::PredictionView::Of(
        predictions[i++ % predictions.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PredictionViewOfParsed);

// The floor: each binary message copied into a string (read and written
// once, one allocation), as any decoder must at least read it.
void BM_DecodeBaselineCopy(benchmark::State& state) {
  const std::vector<std::string> messages =
      EventMessages(PayloadFormat::kProtobuf);
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& message = messages[i++ % messages.size()];
    std::string copy(message);
    benchmark::DoNotOptimize(copy.data());
    bytes += static_cast<int64_t>(message.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_DecodeBaselineCopy);

// What follows decoding for each prediction: ValidatePrediction against
// its model's configuration (defaults for a binary model).
void BM_ValidatePrediction(benchmark::State& state) {
  vigie::services::ModelConfig model;
  model.id = "credit";
  std::vector<vigie::v1::Prediction> predictions;
  for (const vigie::bench::LabeledPrediction& e :
       vigie::bench::MakeLabeledPredictions(kEvents, /*seed=*/1)) {
    predictions.push_back(e.prediction);
  }
  size_t i = 0;
  for (auto _ : state) {
    vigie::v1::Prediction& prediction = predictions[i++ % predictions.size()];
    if (vigie::services::ValidatePrediction(model, prediction).has_value()) {
      state.SkipWithError("a prediction was rejected");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidatePrediction);

}  // namespace
