package com.android.org.conscrypt;

import java.security.Provider;

/**
 * Stand-in for Android's Conscrypt provider on host ART. Android 10's libcore (sun.security.jca.Providers)
 * loads every provider its security.properties names — Conscrypt, CertPath, Bouncy Castle, Conscrypt's JSSE —
 * and refuses all of java.security (AssertionError) when one is missing; Debian packages neither Conscrypt nor
 * Android's Bouncy Castle. This one offers MessageDigest MD5 (pure Java), all the demo's SDKs use; no TLS.
 * Never loaded on HotSpot, whose JDK has its own providers.
 */
public final class OpenSSLProvider extends Provider {
    public OpenSSLProvider() {
        super("AndroidOpenSSL", 1.0, "consentmon host-ART stand-in: MessageDigest MD5 only, no TLS");
        put("MessageDigest.MD5", Md5.class.getName());
    }
}
