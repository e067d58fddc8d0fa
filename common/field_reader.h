#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

// Protobuf's wire format read field by field, for the few places that need
// some fields of a serialized message without parsing it whole: start-up
// reads only the ids and arrival of each pending entry, and a join reads
// only what the monitors need of the stored prediction.

namespace vigie {

// Reads the top-level fields of a serialized message one by one (a nested
// message is read with a FieldReader of its bytes()):
//   FieldReader reader(bytes);
//   while (reader.Next()) { if (reader.number() == 1) ... }
//   if (reader.malformed()) ...
class FieldReader {
 public:
  enum WireType {
    kVarint = 0,
    kFixed64 = 1,
    kLengthDelimited = 2,
    kFixed32 = 5
  };

  explicit FieldReader(absl::string_view message) : in_(message) {}

  // Moves to the next field; false at the end of the message or at bytes
  // that are not a field (then malformed() is true). Groups (wire types 3
  // and 4, which Vigie's messages never use) count as malformed.
  bool Next();
  bool malformed() const { return malformed_; }

  int number() const { return number_; }
  WireType wire_type() const { return wire_type_; }
  // The value of a varint field.
  uint64_t varint() const { return varint_; }
  // The bytes of a length-delimited or fixed-size field.
  absl::string_view bytes() const { return bytes_; }
  // The value of a fixed64 field as the double it encodes.
  double fixed64_double() const;
  // Where in the message the current field ends (the next one starts), so
  // that a caller can copy whole fields.
  size_t end() const { return pos_; }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
  bool malformed_ = false;
  int number_ = 0;
  WireType wire_type_ = kVarint;
  uint64_t varint_ = 0;
  absl::string_view bytes_;
};

// Reads a varint at `*pos` of `in`, advancing `*pos`; false if malformed
// (truncated, or longer than 10 bytes).
bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* value);

}  // namespace vigie
