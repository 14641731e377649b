package android.icu.impl;

import android.icu.text.DateFormat;
import android.icu.text.DateFormatSymbols;
import android.icu.text.SimpleDateFormat;
import android.icu.util.Calendar;
import android.icu.util.ULocale;

/** Two members Android added to its ICU4J and Android 10's libcore calls, in ICU4J's public API. */
public final class AndroidIcuCompat {
    private AndroidIcuCompat() {}

    private static ULocale withCalendar(ULocale locale, String calendarType) {
        return calendarType == null ? locale : locale.setKeywordValue("calendar", calendarType);
    }

    /** Android's Calendar.getDateTimeFormatString(ULocale, String, int, int). */
    public static String getDateTimeFormatString(ULocale locale, String calendarType, int dateStyle, int timeStyle) {
        ULocale withCalendar = withCalendar(locale, calendarType);
        DateFormat format = DateFormat.getDateTimeInstance(Calendar.getInstance(withCalendar), dateStyle, timeStyle, withCalendar);
        return ((SimpleDateFormat) format).toPattern();
    }

    /** Android's DateFormatSymbols(ULocale, String calendarType). */
    public static DateFormatSymbols newDateFormatSymbols(ULocale locale, String calendarType) {
        return new DateFormatSymbols(withCalendar(locale, calendarType));
    }
}
