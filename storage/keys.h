#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Key encodings of Vigie's RocksDB column families. Keys start with the
// model id, length-prefixed so that no id is a prefix of another's key and
// ids may hold any byte; times are big-endian with the sign bit flipped, so
// that byte order is time order (panes of a model iterate oldest first).

namespace vigie::storage {

// varint32(len(model)) + model + id.
std::string ModelIdKey(absl::string_view model_id, absl::string_view id);
// The inverse of ModelIdKey; empty for a malformed key.
struct ModelId {
  std::string model_id;
  std::string id;
};
std::optional<ModelId> DecodeModelIdKey(absl::string_view key);

// varint32(len(model)) + model + 8 bytes of the pane start in microseconds.
std::string PaneKey(absl::string_view model_id, absl::Time pane_start);
struct ModelTime {
  std::string model_id;
  absl::Time time;
};
std::optional<ModelTime> DecodePaneKey(absl::string_view key);

// 8 bytes of `time` in microseconds, then `suffix`: history in time order.
std::string TimeKey(absl::Time time, absl::string_view suffix);
// The time at the front of a TimeKey; empty if `key` is shorter than 8
// bytes.
std::optional<absl::Time> DecodeTimeKey(absl::string_view key);

// Big-endian numbers, so that byte order is numeric order: ingest sequence
// numbers and block numbers. `AppendBigEndian` adds `bytes` bytes of `value`.
void AppendBigEndian(std::string* out, uint64_t value, int bytes);
std::string SeqKey(uint64_t seq);      // 8 bytes.
std::string BlockKey(uint32_t block);  // 4 bytes.
// The number at the front of `key`; empty if `key` is shorter than `bytes`.
std::optional<uint64_t> ReadBigEndian(absl::string_view key, int bytes);

}  // namespace vigie::storage
