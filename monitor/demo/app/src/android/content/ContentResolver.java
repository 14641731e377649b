package android.content;

import android.database.Cursor;
import android.net.Uri;

/** Stub of android.content.ContentResolver with the real query() overloads. */
public abstract class ContentResolver {
    public final Cursor query(Uri uri, String[] projection, String selection, String[] selectionArgs, String sortOrder) {
        return new Cursor(uri.getAuthority().equals("com.android.contacts") ? 3 : 1);
    }
    public final Cursor query(Uri uri, String[] projection, android.os.Bundle queryArgs, android.os.CancellationSignal cancellationSignal) {
        return new Cursor(2);
    }
}
