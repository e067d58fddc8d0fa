#pragma once

#include "proto/proto_bytes.h"

namespace vigie::testutil {

// EXPECT_EQ on two replies' DeterministicBytes shows where they differ.
using ::vigie::DeterministicBytes;

}  // namespace vigie::testutil
