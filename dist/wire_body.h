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

// The body's CBOR map. For Weights it is the table only (no data): use weights_table / decode_weights.
nlohmann::json encode(const Message& message);
// Fills `out` with a message of `type` read from `body`; returns an error naming the field, or "".
// Weights bodies are not one CBOR map: they go through decode_weights.
std::string decode(Type type, const nlohmann::json& body, Message& out);

// A Weights body (wire.h): the table map {version, bucket, buckets, tensors, data_bytes}, without the data.
nlohmann::json weights_table(const Weights& m);
// Fills `out` from the table and the `data_bytes` raw bytes that follow it (copied once into out.data,
// after every check passed); returns an error naming the field, or "".
std::string decode_weights(const nlohmann::json& table, const uint8_t* data, size_t data_bytes, Weights& out);

}  // namespace zerorl::dist::wire::body
