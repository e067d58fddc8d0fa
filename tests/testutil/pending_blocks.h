#pragma once

// The stored pending blocks of a state store, read, damaged and put back:
// how the tests of a failed ingest make a join fail for real, as a bad
// disk would. Header-only, for tests that link the storage.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::testutil {

// Every stored pending block's bytes, by block.
inline std::map<uint32_t, std::string> PendingBlocks(
    const storage::StateStore& store) {
  std::map<uint32_t, std::string> blocks;
  EXPECT_OK(
      store.ForEachPendingBlock([&](uint32_t block, absl::string_view bytes,
                                    const std::vector<std::string>&) {
        blocks[block] = std::string(bytes);
        return absl::OkStatus();
      }));
  return blocks;
}

// Writes each of `blocks` (say, as PendingBlocks read them) back.
inline void PutPendingBlocks(storage::StateStore& store,
                             const std::map<uint32_t, std::string>& blocks) {
  storage::StateBatch batch = store.NewBatch();
  for (const auto& [block, bytes] : blocks) batch.PutPendingBlock(block, bytes);
  EXPECT_OK(store.Commit(batch));
}

// Overwrites each of `blocks` with bytes that do not decode.
inline void DamagePendingBlocks(storage::StateStore& store,
                                const std::map<uint32_t, std::string>& blocks) {
  std::map<uint32_t, std::string> damaged;
  for (const auto& [block, bytes] : blocks) {
    damaged[block] = "\xff\xff not a pending block";
  }
  PutPendingBlocks(store, damaged);
}

}  // namespace vigie::testutil
