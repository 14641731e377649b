package com.google.android.gms.ads.identifier;

public class AdvertisingIdClient {
    public static final class Info {
        public String getId() { return "38400000-8cf0-11bd-b23e-10b96e40000d"; }
        public boolean isLimitAdTrackingEnabled() { return false; }
    }
    public static Info getAdvertisingIdInfo(android.content.Context context) { return new Info(); }
}
