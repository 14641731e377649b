package com.android.org.bouncycastle.jce.provider;

import java.security.Provider;

/** Stand-in for Android's Bouncy Castle provider on host ART (see com.android.org.conscrypt.OpenSSLProvider): empty. */
public final class BouncyCastleProvider extends Provider {
    public BouncyCastleProvider() {
        super("BC", 1.0, "consentmon host-ART stand-in: empty");
    }
}
