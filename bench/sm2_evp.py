"""Debian's OpenSSL 3 SM2 through its EVP API from Python (ctypes), for bench/sm2_bench.py only:
the candidate docs/adr/0009-sm2-library.md weighs against gmalglib, timed as a binding would
call it (a fresh EVP_MD_CTX and EVP_PKEY_CTX with the user ID per signature)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_void_p

from integrity import sm2

_ID = sm2.DEFAULT_ID


class Evp:
    """One SM2 key pair loaded into libcrypto.so.3 (PKCS#8 and SPKI DER from integrity.sm2)."""

    def __init__(self, private: bytes) -> None:
        lib = ctypes.CDLL("libcrypto.so.3")
        for name, res, args in (
            ("d2i_AutoPrivateKey", c_void_p, [c_void_p, POINTER(c_char_p), c_long]),
            ("d2i_PUBKEY", c_void_p, [c_void_p, POINTER(c_char_p), c_long]),
            ("EVP_MD_CTX_new", c_void_p, []), ("EVP_MD_CTX_free", None, [c_void_p]),
            ("EVP_PKEY_CTX_new", c_void_p, [c_void_p, c_void_p]),
            ("EVP_PKEY_CTX_free", None, [c_void_p]),
            ("EVP_PKEY_CTX_set1_id", c_int, [c_void_p, c_char_p, c_size_t]),
            ("EVP_MD_CTX_set_pkey_ctx", None, [c_void_p, c_void_p]), ("EVP_sm3", c_void_p, []),
            ("EVP_DigestSignInit", c_int, [c_void_p] * 5),
            ("EVP_DigestVerifyInit", c_int, [c_void_p] * 5),
            ("EVP_DigestSign", c_int, [c_void_p, c_char_p, POINTER(c_size_t), c_char_p,
                                       c_size_t]),
            ("EVP_DigestVerify", c_int, [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self._lib = lib
        self._sm3 = lib.EVP_sm3()
        self._sk = self._load(lib.d2i_AutoPrivateKey, sm2.pkcs8_der(private))
        self._pk = self._load(lib.d2i_PUBKEY, sm2.spki_der(sm2.public_key(private)))

    @staticmethod
    def _load(fn: Callable[..., int | None], der: bytes) -> int:
        ptr = c_char_p(der)
        key = fn(None, byref(ptr), len(der))
        if not key:
            raise RuntimeError("libcrypto refused the SM2 key")
        return int(key)

    def _ctx(self, key: int) -> tuple[int, int]:
        md, pctx = self._lib.EVP_MD_CTX_new(), self._lib.EVP_PKEY_CTX_new(key, None)
        if self._lib.EVP_PKEY_CTX_set1_id(pctx, _ID, len(_ID)) != 1:
            raise RuntimeError("EVP_PKEY_CTX_set1_id failed")
        self._lib.EVP_MD_CTX_set_pkey_ctx(md, pctx)
        return md, pctx

    def sign(self, message: bytes) -> bytes:
        md, pctx = self._ctx(self._sk)
        try:
            out, size = ctypes.create_string_buffer(80), c_size_t(80)
            if (self._lib.EVP_DigestSignInit(md, None, self._sm3, None, self._sk) != 1
                    or self._lib.EVP_DigestSign(md, out, byref(size), message,
                                                len(message)) != 1):
                raise RuntimeError("EVP_DigestSign failed")
            return out.raw[:size.value]
        finally:
            self._lib.EVP_MD_CTX_free(md)
            self._lib.EVP_PKEY_CTX_free(pctx)

    def verify(self, message: bytes, signature: bytes) -> bool:
        md, pctx = self._ctx(self._pk)
        try:
            if self._lib.EVP_DigestVerifyInit(md, None, self._sm3, None, self._pk) != 1:
                raise RuntimeError("EVP_DigestVerifyInit failed")
            return bool(self._lib.EVP_DigestVerify(md, signature, len(signature), message,
                                                   len(message)) == 1)
        finally:
            self._lib.EVP_MD_CTX_free(md)
            self._lib.EVP_PKEY_CTX_free(pctx)
