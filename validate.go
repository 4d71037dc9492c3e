package main

// What kubexit accepts as a name or a path: container names (DNS-1123
// labels), pod names (DNS-1123 subdomains), paths without control or
// invisible characters.

import (
	"fmt"
	"strconv"
	"strings"
)

// validatePath refuses control characters (NUL, newline, tab, DEL, C1) and
// invisible ones (zero-width and direction marks, spaces other than ' ') in
// a path: pasted into a manifest, they make a path that looks like the
// sibling containers' but is not. Bytes that are not UTF-8 are left alone: a
// Linux path need not be UTF-8.
func validatePath(v string) error {
	for i, r := range v {
		if !strconv.IsPrint(r) {
			return fmt.Errorf("a path must not contain control or invisible characters (%q at byte %d)", r, i)
		}
	}
	return nil
}

// validateName accepts a DNS-1123 label, which is what a container name is:
// 1 to 63 characters, lowercase alphanumerics and '-', starting and ending
// with an alphanumeric. Nothing else may become a file name in the graveyard:
// no '/', no '.', so no "..", no hidden or temporary files.
func validateName(s string) error {
	if len(s) > 63 {
		return fmt.Errorf("longer than 63 characters; must be a container name (DNS-1123 label)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return fmt.Errorf("must be a container name (DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit)")
		}
	}
	return nil
}

// validateSubdomain accepts a DNS-1123 subdomain, which is what a pod name is.
func validateSubdomain(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("longer than 253 characters; must be a pod name (DNS-1123 subdomain)")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || validateName(label) != nil {
			return fmt.Errorf("must be a pod name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')")
		}
	}
	return nil
}
