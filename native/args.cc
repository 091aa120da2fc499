#include "args.h"

#include <string>

#include "errors.h"

namespace dax {

namespace {

void ThrowArgType(napi_env env, const char* name, const char* expected) {
  std::string m = std::string("The \"") + name + "\" argument must be " + expected;
  ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", m.c_str());
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 0;
  }
}

}  // namespace

bool GetInt64(Napi::Env env, napi_value v, const char* name, int64_t* out) {
  double d;
  // napi_get_value_int64 maps NaN and infinities to 0 and truncates
  // fractions; none of those is a valid offset or length.
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < -9007199254740991.0 ||
      d > 9007199254740991.0 || static_cast<double>(static_cast<int64_t>(d)) != d) {
    ThrowArgType(env, name, "an integer");
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool GetFd(napi_env env, napi_value v, const char* name, int* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < -100 || d > INT32_MAX ||
      static_cast<double>(static_cast<int>(d)) != d) {
    ThrowArgType(env, name, "a file descriptor");
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

namespace {

bool StringValue(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->assign(len, '\0');
  size_t got = 0;
  if (len > 0 && napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &got) != napi_ok) return false;
  out->resize(got);
  return true;
}

}  // namespace

std::string GetString(napi_env env, napi_value v) {
  std::string s;
  if (!StringValue(env, v, &s)) s.clear();
  return s;
}

napi_value Display(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  size_t len = 0;
  if (v == nullptr || napi_typeof(env, v, &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf16(env, v, nullptr, 0, &len) != napi_ok || len == 0)
    return nullptr;
  return v;
}

namespace {

// The UTF-8 of a string, or false when it holds a lone surrogate.
bool WellFormedUtf8(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf16(env, v, nullptr, 0, &len) != napi_ok) return false;
  std::u16string u(len, u'\0');
  size_t got = 0;
  if (len > 0 && napi_get_value_string_utf16(env, v, &u[0], len + 1, &got) != napi_ok) return false;
  out->clear();
  out->reserve(len);
  for (size_t i = 0; i < len; i++) {
    uint32_t c = u[i];
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c > 0xdbff || i + 1 >= len || u[i + 1] < 0xdc00 || u[i + 1] > 0xdfff) return false;
      c = 0x10000 + ((c - 0xd800) << 10) + (u[++i] - 0xdc00);
    }
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (c >> 6)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (c >> 12)));
      out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (c >> 18)));
      out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return true;
}

}  // namespace

bool GetPathBytes(napi_env env, napi_value v, const char* name, std::string* out) {
  bool is = false;
  auto type = static_cast<napi_typedarray_type>(-1);
  size_t len = 0;
  void* data = nullptr;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is &&
      napi_get_typedarray_info(env, v, &type, &len, &data, nullptr, nullptr) == napi_ok && type == napi_uint8_array) {
    out->assign(static_cast<const char*>(data), len);
  } else {
    napi_valuetype t = napi_undefined;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
      ThrowArgType(env, name, "of type string or an instance of Buffer");
      return false;
    }
    if (!WellFormedUtf8(env, v, out)) {
      std::string m = std::string("The argument '") + name +
                      "' must not contain a lone surrogate (pass the exact bytes of a name as a Buffer)";
      ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", m.c_str());
      return false;
    }
  }
  if (out->find('\0') != std::string::npos) {
    std::string m = std::string("The argument '") + name + "' must not contain null bytes";
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", m.c_str());
    return false;
  }
  return true;
}

bool GetBytes(Napi::Env env, napi_value v, const char* name, uint8_t** data, size_t* len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    // Node-API leaves `type` untouched for an element type it does not name.
    auto type = static_cast<napi_typedarray_type>(-1);
    size_t count = 0;
    void* p = nullptr;
    if (napi_get_typedarray_info(env, v, &type, &count, &p, nullptr, nullptr) != napi_ok) {
      ThrowArgType(env, name, "a TypedArray or DataView");
      return false;
    }
    const size_t elem = ElementSize(type);
    if (elem == 0) {
      ThrowArgType(env, name, "a TypedArray of a known element type, or a Uint8Array over its bytes");
      return false;
    }
    *data = static_cast<uint8_t*>(p);
    *len = count * elem;
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    void* p = nullptr;
    if (napi_get_dataview_info(env, v, len, &p, nullptr, nullptr) != napi_ok) {
      ThrowArgType(env, name, "a TypedArray or DataView");
      return false;
    }
    *data = static_cast<uint8_t*>(p);
    return true;
  }
  ThrowArgType(env, name, "a TypedArray or DataView");
  return false;
}

void Export(napi_env env, napi_value exports, const char* name, napi_callback cb, void* data) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &fn) == napi_ok) {
    napi_set_named_property(env, exports, name, fn);
  }
}

ObjectBuilder::ObjectBuilder(napi_env env) : env_(env) {
  if (napi_create_object(env, &obj_) != napi_ok) napi_get_undefined(env, &obj_);
}

ObjectBuilder& ObjectBuilder::Val(const char* key, napi_value v) {
  if (obj_ != nullptr && v != nullptr) napi_set_named_property(env_, obj_, key, v);
  return *this;
}

ObjectBuilder& ObjectBuilder::Null(const char* key) {
  napi_value x = nullptr;
  napi_get_null(env_, &x);
  return Val(key, x);
}

ObjectBuilder& ObjectBuilder::Num(const char* key, double v) {
  napi_value x = nullptr;
  napi_create_double(env_, v, &x);
  return Val(key, x);
}

ObjectBuilder& ObjectBuilder::U64(const char* key, uint64_t v) {
  napi_value x = nullptr;
  napi_create_bigint_uint64(env_, v, &x);
  return Val(key, x);
}

ObjectBuilder& ObjectBuilder::Bool(const char* key, bool v) {
  napi_value x = nullptr;
  napi_get_boolean(env_, v, &x);
  return Val(key, x);
}

ObjectBuilder& ObjectBuilder::Str(const char* key, const char* v) {
  napi_value x = nullptr;
  napi_create_string_utf8(env_, v, NAPI_AUTO_LENGTH, &x);
  return Val(key, x);
}

bool IsTrue(napi_env env, napi_value v) {
  bool b = false;
  return napi_get_value_bool(env, v, &b) == napi_ok && b;
}

}  // namespace dax
