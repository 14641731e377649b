package com.amap.api.location;

import android.content.Context;
import android.location.Location;
import android.location.LocationManager;

/** A fake location SDK: reads the last known location whenever asked. */
public class AMapLocationClient {
    private final Context context;
    public AMapLocationClient(Context context) { this.context = context; }
    public String getLastKnownLocation() {
        LocationManager manager = (LocationManager) context.getSystemService(Context.LOCATION_SERVICE);
        Location location = manager.getLastKnownLocation(LocationManager.GPS_PROVIDER);
        return location.getLatitude() + "," + location.getLongitude();
    }
}
