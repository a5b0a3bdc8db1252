// Reads metadata_props (model_version, trained_at, ...) from an ONNX file. onnxruntime-node
// does not expose them, and they are one field of the top-level ModelProto, so a few lines
// of protobuf wire-format reading beat a protobuf dependency.

const METADATA_PROPS = 14; // ModelProto.metadata_props: repeated StringStringEntryProto

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * 2 ** shift;
    if ((bytes[i] & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  throw new Error('truncated varint');
}

/** Calls visit(field, wire type, payload) for each field of one message. */
function fields(bytes: Uint8Array, visit: (field: number, payload: Uint8Array) => void): void {
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, at);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) at = readVarint(bytes, afterTag)[1];
    else if (wire === 1) at = afterTag + 8;
    else if (wire === 5) at = afterTag + 4;
    else if (wire === 2) {
      const [length, start] = readVarint(bytes, afterTag);
      if (start + length > bytes.length) throw new Error('truncated field');
      visit(field, bytes.subarray(start, start + length));
      at = start + length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

export function readOnnxMetadata(model: Uint8Array): Record<string, string> {
  const decoder = new TextDecoder();
  const props: Record<string, string> = {};
  fields(model, (field, payload) => {
    if (field !== METADATA_PROPS) return;
    let key = '';
    let value = '';
    fields(payload, (f, p) => {
      if (f === 1) key = decoder.decode(p);
      if (f === 2) value = decoder.decode(p);
    });
    props[key] = value;
  });
  return props;
}
