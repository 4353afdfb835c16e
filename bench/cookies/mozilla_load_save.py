"""The Python anchor: MozillaCookieJar load + save of the same jar, keeping session and
expired cookies so every line is processed. Usage: python3 mozilla_load_save.py IN OUT"""
import sys
from http.cookiejar import MozillaCookieJar

jar = MozillaCookieJar()
jar.load(sys.argv[1], ignore_discard=True, ignore_expires=True)
jar.save(sys.argv[2], ignore_discard=True, ignore_expires=True)
