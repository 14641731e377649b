package android.location;

public class LocationManager {
    public static final String GPS_PROVIDER = "gps";
    public static final String NETWORK_PROVIDER = "network";
    public Location getLastKnownLocation(String provider) { return new Location(provider, 39.908823, 116.397470); }
}
