// dist/wire_body.h: internal to dist/wire*.cpp: message <-> CBOR map (nlohmann-json), little-endian helpers.
// Not here: framing and the decoder's limits (dist/wire.cpp), which callers use through dist/wire.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dist/wire.h"

namespace zerorl::dist::wire::body {

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes);
uint64_t get_le(const uint8_t* bytes, int count);

nlohmann::json encode(const Message& message);
// Fills `out` with a message of `type` read from `body`; returns an error naming the field, or "".
std::string decode(Type type, const nlohmann::json& body, Message& out);

}  // namespace zerorl::dist::wire::body
