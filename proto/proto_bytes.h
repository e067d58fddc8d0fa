#pragma once

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message_lite.h"

namespace vigie {

// `message`'s bytes with map entries in key order, so that equal messages
// give equal bytes: plain serialization writes maps in an unspecified
// order. Monitors' states are written so (equal states, equal bytes), and
// tests compare replies so.
inline std::string DeterministicBytes(
    const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace vigie
