import Testing
import NIOSSL
import X509
import Crypto
