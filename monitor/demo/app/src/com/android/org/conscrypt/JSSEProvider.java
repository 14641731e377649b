package com.android.org.conscrypt;

import java.security.Provider;

/** Stand-in for Conscrypt's JSSE provider on host ART (see OpenSSLProvider): present, and empty — no TLS. */
public final class JSSEProvider extends Provider {
    public JSSEProvider() {
        super("HarmonyJSSE", 1.0, "consentmon host-ART stand-in: no TLS");
    }
}
