package android.provider;

import android.content.ContentResolver;

/** Stub of android.provider.Settings: Secure.getString("android_id") is the Android ID. */
public final class Settings {
    public static final class Secure {
        public static final String ANDROID_ID = "android_id";
        public static String getString(ContentResolver resolver, String name) {
            if (ANDROID_ID.equals(name)) return "5f2c8e1a9b3d47e6";
            if ("default_input_method".equals(name)) return "com.android.inputmethod.latin/.LatinIME";
            return null;
        }
    }
    public static final class System {
        public static String getString(ContentResolver resolver, String name) {
            return "android_id".equals(name) ? "5f2c8e1a9b3d47e6" : null;
        }
    }
}
