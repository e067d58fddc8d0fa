// What keeping no raw id or event on disk costs per event: a prediction
// id's pseudonym (HMAC-SHA-256), a pending prediction minimised (its
// features and id dropped, on the wire format), and the AES-256-GCM seal of
// an ingest-log record of 1,000 events and of a 64 KiB pending block.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/fixtures/model_events.h"
#include "benchmark/benchmark.h"
#include "services/minimised_events.h"
#include "storage/privacy_keys.h"

namespace vigie::bench {
namespace {

storage::PrivacyKeys Keys() {
  return *storage::PrivacyKeys::FromSecret(std::string(64, 'k'));
}

void BM_Pseudonym(benchmark::State& state) {
  const storage::PrivacyKeys keys = Keys();
  std::vector<std::string> ids;
  for (int i = 0; i < 1024; ++i) {
    ids.push_back(absl::StrCat("7f3a9c2e-4b1d-4e8a-9c0f-", 100000000000 + i));
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(keys.Pseudonym("credit", ids[i++ & 1023]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Pseudonym);

void BM_MinimisedPrediction(benchmark::State& state) {
  const std::vector<LabeledPrediction> stream = MakeLabeledPredictions(256, 1);
  std::vector<std::string> bytes;
  for (const LabeledPrediction& p : stream) {
    bytes.push_back(p.prediction.SerializeAsString());
  }
  const std::string pseudonym(32, 'a');
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        services::MinimisedPrediction(bytes[i++ & 255], pseudonym));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MinimisedPrediction);

// Arg: bytes sealed. An ingest call of 1,000 events of this model is about
// 420 KB; a pending block 64 KiB.
void BM_Seal(benchmark::State& state) {
  const storage::PrivacyKeys keys = Keys();
  const std::string record(static_cast<size_t>(state.range(0)), 'r');
  for (auto _ : state) {
    benchmark::DoNotOptimize(keys.Seal("ingest log", record));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Seal)->Arg(64 << 10)->Arg(420'000);

void BM_Open(benchmark::State& state) {
  const storage::PrivacyKeys keys = Keys();
  const std::string sealed =
      keys.Seal("pending block", std::string(64 << 10, 'b'));
  for (auto _ : state) {
    benchmark::DoNotOptimize(keys.Open("pending block", sealed));
  }
  state.SetBytesProcessed(state.iterations() * (64 << 10));
}
BENCHMARK(BM_Open);

}  // namespace
}  // namespace vigie::bench
