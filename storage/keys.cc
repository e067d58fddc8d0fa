#include "storage/keys.h"

#include <cstdint>
#include <optional>
#include <string>

namespace vigie::storage {
namespace {

void PutVarint32(std::string* out, uint32_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Reads a varint32 from the front of `in`, advancing it.
std::optional<uint32_t> GetVarint32(absl::string_view* in) {
  uint32_t value = 0;
  for (int shift = 0; shift <= 28 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    value |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

void PutTime(std::string* out, absl::Time time) {
  // Flipping the sign bit makes two's-complement order unsigned byte order.
  const uint64_t bits =
      static_cast<uint64_t>(absl::ToUnixMicros(time)) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((bits >> shift) & 0xff));
  }
}

absl::Time GetTime(absl::string_view in) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) {
    bits = (bits << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  }
  return absl::FromUnixMicros(static_cast<int64_t>(bits ^ (uint64_t{1} << 63)));
}

std::string ModelPrefix(absl::string_view model_id) {
  std::string key;
  PutVarint32(&key, static_cast<uint32_t>(model_id.size()));
  key.append(model_id.data(), model_id.size());
  return key;
}

// Splits the model id off the front of `key`, advancing it.
std::optional<std::string> TakeModel(absl::string_view* key) {
  const std::optional<uint32_t> length = GetVarint32(key);
  if (!length.has_value() || key->size() < *length) return std::nullopt;
  std::string model(key->substr(0, *length));
  key->remove_prefix(*length);
  return model;
}

}  // namespace

std::string ModelIdKey(absl::string_view model_id, absl::string_view id) {
  std::string key = ModelPrefix(model_id);
  key.append(id.data(), id.size());
  return key;
}

std::optional<ModelId> DecodeModelIdKey(absl::string_view key) {
  std::optional<std::string> model = TakeModel(&key);
  if (!model.has_value()) return std::nullopt;
  return ModelId{*std::move(model), std::string(key)};
}

std::string PaneKey(absl::string_view model_id, absl::Time pane_start) {
  std::string key = ModelPrefix(model_id);
  PutTime(&key, pane_start);
  return key;
}

std::optional<ModelTime> DecodePaneKey(absl::string_view key) {
  std::optional<std::string> model = TakeModel(&key);
  if (!model.has_value() || key.size() != 8) return std::nullopt;
  return ModelTime{*std::move(model), GetTime(key)};
}

std::string TimeKey(absl::Time time, absl::string_view suffix) {
  std::string key;
  PutTime(&key, time);
  key.append(suffix.data(), suffix.size());
  return key;
}

std::optional<absl::Time> DecodeTimeKey(absl::string_view key) {
  if (key.size() < 8) return std::nullopt;
  return GetTime(key.substr(0, 8));
}

void AppendBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::string SeqKey(uint64_t seq) {
  std::string key;
  AppendBigEndian(&key, seq, 8);
  return key;
}

std::string BlockKey(uint32_t block) {
  std::string key;
  AppendBigEndian(&key, block, 4);
  return key;
}

std::optional<uint64_t> ReadBigEndian(absl::string_view key, int bytes) {
  if (key.size() < static_cast<size_t>(bytes)) return std::nullopt;
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<uint8_t>(key[static_cast<size_t>(i)]);
  }
  return value;
}

}  // namespace vigie::storage
